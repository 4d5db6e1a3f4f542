// Package approvals owns the human gate in front of apply: approver keys,
// approval tokens (issue, parse, verify), approver-signed requests, the
// single-use nonce ledger, and the evaluation of a stack's policy block on
// a plan.
//
// The server side only ever needs public keys (from plangate.hcl), the
// ledger and the policy; private keys are read by `plangate approve` alone.
//
// # Approver key files
//
// WritePrivateKey writes one JSON object that a human recognises:
//
//	{
//	  "plangate_approver_key": 1,
//	  "approver": "oncall",
//	  "public_key": "ed25519:<standard base64>",
//	  "encryption": "none",
//	  "private_key": "<standard base64 of the 32-byte Ed25519 seed>"
//	}
//
// With a passphrase, "encryption" is "scrypt-xchacha20poly1305": a 32-byte
// key is derived from the passphrase with scrypt (N=32768, r=8, p=1, random
// 16-byte salt, recorded under "kdf") and the seed is sealed with
// XChaCha20-Poly1305 (random 24-byte "nonce") into "sealed_key". The
// approver name and public key are authenticated as additional data, so a
// file whose name or key was edited does not decrypt. ReadPrivateKey parses
// strictly (no unknown or duplicate fields), accepts scrypt N from 2^15 to
// 2^18 only (a hostile file cannot make it allocate gigabytes), and checks
// that the private key matches the recorded public key.
//
// ReadPrivateKey refuses a key file that group or others may read or write
// (like ssh does): the error says to run chmod 600. A key others can read is
// a key an agent running as another user may have copied.
//
// # Approval tokens
//
// A token is pgt1.<payload>.<signature>, both parts base64url without
// padding. The payload is the canonical JSON encoding of Claims (exactly the
// bytes encoding/json produces for it: field order, no spaces, no unknown or
// duplicate fields); the signature is Ed25519 over the ASCII bytes
// "pgt1.<payload>", so a signature can never be replayed as another kind of
// plangate signature. Parse removes all whitespace (humans paste tokens
// wrapped across lines) and refuses any other variation. A token's
// Fingerprint, never the token, is what logs and the audit trail record.
//
// # Passkey tokens
//
// A passkey approver (config.Approver.Passkey) approves on the review page
// instead: pgt2.<payload>.<authenticatorData>.<clientDataJSON>.<signature>,
// each part base64url without padding. The payload is a pgt1 token's
// (NewPayload makes it, with Issue's expiry rules) and is parsed as
// strictly; the rest is a WebAuthn assertion whose challenge is the
// SHA-256 of the payload, checked by passkey.Credential.Verify. Verify
// treats both kinds alike (plan, stack, SHA-256, expiry, nonce, distinct
// approvers), so one plan may get a pgt1 from one approver and a pgt2 from
// another; for a pgt2 it also requires the passkey's sign counter to be
// above the last one the ledger recorded for that passkey (when either is
// non-zero), and the ledger records the new counter with the nonce.
//
// # Signed requests
//
// What an approver signs other than a plan approval — lifting a freeze,
// later accepting a config edit — is a request: pgr1.<payload>.<signature>,
// in the same form as a token. Its payload is RequestClaims (approver,
// action, subject, iat, exp, nonce; canonical JSON, parsed as strictly as a
// token's) and it lives RequestTTL (5 minutes). The prefix is part of the
// signed bytes and the two payloads have different fields, so a request
// never verifies as a token, nor a token as a request. VerifyRequest
// checks the approver, the signature, the action and subject asked for
// and the time; as with tokens, logs and the audit trail record only the
// request's Fingerprint.
//
// # Ledger
//
// Each token carries a random nonce; Ledger.Consume records the nonces of
// an apply in <state_dir>/ledger.jsonl under an exclusive flock, fsynced,
// before Terraform starts, and refuses a nonce seen before. The ledger
// holds nonces and fingerprints, never tokens. It is hash-chained like the
// audit log, with ledger.head recording its newest line, so that deleting
// a used nonce (which would make a spent token verify again), editing a
// line, cutting the tail or removing the head makes Used and Consume
// refuse with a *LedgerError naming the line; see Ledger for the upgrade
// from ledgers without a chain.
//
// # Protected address patterns
//
// A resource address is a sequence of steps: module.<name>[key] for each
// module call, then <type>.<name>[key] (or data.<type>.<name>[key]). Keys
// are [0] or ["string"]; strings may hold dots, brackets and escaped quotes,
// which never split steps. A pattern is written the same way, and:
//
//   - '*' matches any run of characters within one part of one step: a
//     type, a name or an instance key. aws_db_* matches every type starting
//     with aws_db_; aws_instance.web[*] matches every instance of web
//     (including web itself when it has no key); ["prod-*"] matches string
//     keys that start with prod-.
//   - A step written without a key matches every instance:
//     aws_instance.web matches aws_instance.web, aws_instance.web[0] and
//     aws_instance.web["a"]; module.a matches module.a["x"] too.
//   - '*' never crosses a step: module.*.aws_db_instance.main matches that
//     resource in module.a or module.b["x"], not in module.a.module.b.
//   - A pattern that ends after its module steps, or with a lone '*' where
//     a step would start, matches the whole subtree: module.data and
//     module.data.* match every resource in module.data and in any module
//     nested under it, and '*' alone matches everything. Protection errs
//     toward matching; write module.data.*.* to mean only resources
//     directly in module.data.
//
// A pattern that does not parse (see ValidatePattern) matches nothing in
// MatchAddress, and Evaluate blocks every deleting plan of a stack whose
// policy holds one, since it cannot tell what the human meant to protect.
package approvals
