package approvals

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pasteSlack is how much longer than its longest valid text a pasted
// signed text may be before whitespace is removed: a huge paste costs
// nothing.
const pasteSlack = 8

// signedForm is the text form that approval tokens and signed requests
// share: <prefix><payload>.<signature>, both parts base64url without
// padding. The prefix names the kind and its version and is part of the
// bytes signed ("<prefix><payload>"), so a signature made for one kind
// never verifies as another: that is the domain separation between them.
type signedForm struct {
	prefix string // "pgt1.", "pgr1."
	plural string // "tokens", "requests": for messages
	maxLen int    // of the normalized text
}

// signedText is a text of a signedForm, split; its parts are well formed,
// its payload not yet read.
type signedText struct {
	text    string // normalized: whitespace removed
	payload []byte
	sig     []byte
}

// signed is what the signature covers: "<prefix><payload b64>".
func (s *signedText) signed() []byte {
	i := strings.LastIndexByte(s.text, '.')
	if i < 0 {
		return nil
	}
	return []byte(s.text[:i])
}

// sign makes the text of payload signed by key.
func (f signedForm) sign(key ed25519.PrivateKey, payload []byte) string {
	signed := f.prefix + b64.EncodeToString(payload)
	return signed + "." + b64.EncodeToString(ed25519.Sign(key, []byte(signed)))
}

// open splits text as a human pasted it: all whitespace is removed, and
// the rest must be exactly <prefix><payload>.<signature>. Its errors say
// what is wrong in a phrase that starts "it" or "its", and never quote the
// text.
func (f signedForm) open(text string) (*signedText, error) {
	if len(text) > pasteSlack*f.maxLen {
		return nil, errors.New("it is far too long to be a plangate " + f.singular())
	}
	if !utf8.ValidString(text) {
		return nil, errors.New("it holds bytes that are not text")
	}
	norm := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, text)
	family := f.prefix[:3] // "pgt", "pgr": the kind without its version
	switch {
	case norm == "":
		return nil, errors.New("it is empty")
	case len(norm) > f.maxLen:
		return nil, fmt.Errorf("it is %d characters long, more than a plangate %s (at most %d)", len(norm), f.singular(), f.maxLen)
	case !strings.HasPrefix(norm, f.prefix):
		if strings.HasPrefix(norm, family) {
			return nil, fmt.Errorf("it is not a version this plangate reads (%s start with %s)", f.plural, f.prefix)
		}
		return nil, errors.New("it does not start with " + f.prefix)
	}
	parts := strings.Split(norm[len(f.prefix):], ".")
	if len(parts) != 2 {
		return nil, fmt.Errorf("it has %d dot-separated parts, not 3 (%spayload.signature)", len(parts)+1, f.prefix)
	}
	payload, err := decodeB64URL(parts[0])
	if err != nil {
		return nil, errors.New("its payload " + err.Error())
	}
	sig, err := decodeB64URL(parts[1])
	if err != nil {
		return nil, errors.New("its signature " + err.Error())
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("its signature is %d bytes, not %d", len(sig), ed25519.SignatureSize)
	}
	return &signedText{text: norm, payload: payload, sig: sig}, nil
}

func (f signedForm) singular() string { return strings.TrimSuffix(f.plural, "s") }

// verify reports whether pub signed s.
func (s *signedText) verify(pub ed25519.PublicKey) bool {
	signed := s.signed()
	if len(pub) != ed25519.PublicKeySize || len(s.sig) != ed25519.SignatureSize || signed == nil {
		return false
	}
	return ed25519.Verify(pub, signed, s.sig)
}

// decodeB64URL decodes unpadded base64url, refusing every other spelling of
// the same bytes (padding, non-zero trailing bits).
func decodeB64URL(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("is empty")
	}
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, errors.New("is not unpadded base64url")
	}
	return b, nil
}

// claimSet is a signed payload's type: Claims, RequestClaims.
type claimSet interface {
	validate() error
}

// decodeCanonical decodes a payload into v strictly: one JSON object with
// exactly fields, each well formed (v's validate), encoded exactly as
// json.Marshal encodes v. The last rule leaves one valid spelling per
// payload. Its errors are phrases that follow "its payload".
func decodeCanonical(payload []byte, fields []string, v claimSet, plural string) error {
	if err := checkJSONObject(payload, fields, nil); err != nil {
		return errors.New("is not valid: " + err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("has a field of the wrong type")
	}
	if err := v.validate(); err != nil {
		return fmt.Errorf("is not valid: %w", err)
	}
	canonical, err := json.Marshal(v)
	if err != nil || !bytes.Equal(canonical, payload) {
		return fmt.Errorf("is not encoded the way plangate encodes %s (it was edited)", plural)
	}
	return nil
}
