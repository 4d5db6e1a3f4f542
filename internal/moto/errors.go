package moto

import (
	"bytes"
	"context"
	"io"

	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aws/smithy-go/middleware"
)

// FixQueryErrors is an SDK APIOptions entry that makes moto's authorization
// errors readable. Moto wraps them in <ErrorResponse><Errors><Error> (the
// EC2 shape) for every service, where the query protocol of IAM and STS
// expects <ErrorResponse><Error>: the SDK then reports "UnknownError" and
// drops the message. This rewrites such bodies before the SDK reads them.
func FixQueryErrors(stack *middleware.Stack) error {
	return stack.Deserialize.Insert(middleware.DeserializeMiddlewareFunc("motoFixQueryErrors",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			resp, ok := out.RawResponse.(*smithyhttp.Response)
			if !ok || resp.StatusCode < 300 || resp.Body == nil {
				return out, md, err
			}
			body, readErr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if readErr != nil {
				return out, md, err
			}
			if bytes.Contains(body, []byte("<ErrorResponse><Errors><Error>")) {
				body = bytes.Replace(body, []byte("<ErrorResponse><Errors><Error>"), []byte("<ErrorResponse><Error>"), 1)
				body = bytes.Replace(body, []byte("</Error></Errors></ErrorResponse>"), []byte("</Error></ErrorResponse>"), 1)
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			return out, md, err
		}), "OperationDeserializer", middleware.After)
}
