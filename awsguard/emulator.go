package awsguard

import (
	"bytes"
	"context"
	"io"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// emulatorErrors rewrites moto's <ErrorResponse><Errors><Error> error bodies
// into the <ErrorResponse><Error> shape of the query protocol. Installed
// only when the aws block sets endpoint_url.
type emulatorErrors struct{}

func (emulatorErrors) ID() string { return "plangateEmulatorErrors" }

func (emulatorErrors) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.StatusCode < 300 || resp.Body == nil {
		return out, md, err
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if readErr != nil {
		resp.Body = io.NopCloser(bytes.NewReader(nil))
		return out, md, err
	}
	const wrapped, plain = "<ErrorResponse><Errors><Error>", "<ErrorResponse><Error>"
	if bytes.Contains(body, []byte(wrapped)) {
		body = bytes.Replace(body, []byte(wrapped), []byte(plain), 1)
		body = bytes.Replace(body, []byte("</Error></Errors></ErrorResponse>"), []byte("</Error></ErrorResponse>"), 1)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return out, md, err
}
