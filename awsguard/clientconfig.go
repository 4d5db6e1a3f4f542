package awsguard

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ClientConfig returns the SDK configuration of plangate's own
// credentials for the guard's stack, found exactly as Plan and Apply find
// them (the aws block's profile and region, the standard chain or the
// base environment), with the aws block's endpoint_url for every service
// and the emulator's error shapes repaired: for callers that read AWS as
// plangate itself (plangate doctor reads the roles' IAM policies). Nothing
// is fetched yet.
func (g *Guard) ClientConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := g.load(ctx, OpRead)
	if err != nil {
		return aws.Config{}, err
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region: set region in the stack's aws block")
	}
	if g.endpointURL != "" {
		cfg.BaseEndpoint = aws.String(g.endpointURL)
		cfg.APIOptions = append(cfg.APIOptions, fixEmulatorErrors)
	}
	return cfg, nil
}
