package main

import (
	"context"

	"github.com/plangate/plangate/internal/gen"
)

func reportResults(ctx context.Context, tf *gen.Terraform, dir string) error { return nil }
