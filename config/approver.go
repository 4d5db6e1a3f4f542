package config

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/plangate/plangate/passkey"
)

// approvers reads the approver blocks into cfg: each holds exactly one of
// public_key and passkey, and no key or passkey serves two names (one
// person would count as two distinct approvers and so defeat every
// quorum).
func (l *loader) approvers(cfg *Config, blocks []*approverBlock) {
	approverAt := map[string]hcl.Range{}
	keyAt := map[string]*approverBlock{}
	for _, ra := range blocks {
		if first, dup := approverAt[ra.Name]; dup {
			l.errorf(ra.NameRange, "Duplicate approver",
				"approver %q is defined twice, here and at %s: rename or remove one of them", ra.Name, first)
			continue
		}
		approverAt[ra.Name] = ra.DefRange
		a := l.approver(ra)
		if a == nil {
			continue
		}
		id, rng, summary, what := "key:"+string(a.PublicKey), ra.PublicKeyRange, "Duplicate approver key", "public key"
		if a.Passkey != nil {
			id, rng, summary, what = "passkey:"+a.Passkey.RPID+":"+string(a.Passkey.ID), ra.PasskeyRange, "Duplicate approver passkey", "passkey"
		}
		if other, dup := keyAt[id]; dup {
			l.errorf(rng, summary,
				"approver %q has the same %s as approver %q at %s: each approver needs their own "+
					"(plangate keygen --name %s, or plangate passkey register --name %s), otherwise one person counts as two approvals",
				ra.Name, what, other.Name, other.DefRange, ra.Name, ra.Name)
			continue
		}
		keyAt[id] = ra
		cfg.Approvers = append(cfg.Approvers, a)
	}
}

// approver reads one approver block; nil when it is not valid (the
// problem is recorded).
func (l *loader) approver(ra *approverBlock) *Approver {
	l.checkName("approver", ra.Name, "oncall", ra.NameRange)
	a := &Approver{Name: ra.Name, DeclRange: ra.DefRange}
	switch {
	case ra.PublicKey != nil && ra.Passkey != nil:
		l.errorf(ra.PasskeyRange, "Approver with a key and a passkey",
			"approver %q has both public_key and passkey: an approver approves with one of them; keep one, "+
				"or make two approvers with their own names (each counts as a different person)", ra.Name)
		return nil
	case ra.PublicKey == nil && ra.Passkey == nil:
		l.errorf(ra.DefRange, "Approver without a key",
			"approver %q has neither public_key nor passkey: run plangate keygen --name %s (a key file) or "+
				"plangate passkey register --name %s (a passkey), and paste the approver block it prints here", ra.Name, ra.Name, ra.Name)
		return nil
	case ra.Passkey != nil:
		cred, err := passkey.ParseCredential(*ra.Passkey)
		if err != nil {
			l.errorf(ra.PasskeyRange, "Invalid passkey", "approver %q: %v", ra.Name, err)
			return nil
		}
		a.Passkey = cred
		return a
	}
	key, err := ParsePublicKey(*ra.PublicKey)
	if err != nil {
		l.errorf(ra.PublicKeyRange, "Invalid public_key",
			"approver %q: %v: the expected form is \"%s<standard base64 of the 32-byte Ed25519 public key>\"; "+
				"run plangate keygen --name %s, which prints the whole approver block to paste here",
			ra.Name, err, PublicKeyPrefix, ra.Name)
		return nil
	}
	a.PublicKey = key
	return a
}

// SameCredential reports whether a and b approve with the same key or
// passkey.
func (a *Approver) SameCredential(b *Approver) bool {
	if a.Passkey != nil || b.Passkey != nil {
		return a.Passkey.Equal(b.Passkey) && a.PublicKey == nil && b.PublicKey == nil
	}
	return a.PublicKey.Equal(b.PublicKey)
}

// CredentialText is the approver's public_key or passkey as written in the
// config.
func (a *Approver) CredentialText() string {
	if a.Passkey != nil {
		return a.Passkey.String()
	}
	return FormatPublicKey(a.PublicKey)
}

// KeyLabel names an approver's key or passkey in a change: its first
// characters, as written in the config.
func KeyLabel(a *Approver) string {
	if a.Passkey != nil {
		return "passkey " + a.Passkey.Fingerprint() + " for " + a.Passkey.RPID
	}
	k := FormatPublicKey(a.PublicKey)
	if len(k) > 20 {
		k = k[:20] + "…"
	}
	return "key " + k
}
