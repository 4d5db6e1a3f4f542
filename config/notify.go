package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// notifyBlock is `notify { webhook = "https://…" }`, at top level or in a stack.
type notifyBlock struct {
	Webhook      string    `hcl:"webhook"`
	WebhookRange hcl.Range `hcl:"webhook,attr_value_range"`
}

// Webhook returns the webhook notified of a stack's events: the stack's
// own notify block replaces the top-level one; "" means none.
func (c *Config) WebhookFor(stack string) string {
	if st, ok := c.Stack(stack); ok && st.Webhook != "" {
		return st.Webhook
	}
	return c.Webhook
}

// HasWebhooks reports whether any event of the config is notified.
func (c *Config) HasWebhooks() bool {
	if c.Webhook != "" {
		return true
	}
	for _, st := range c.Stacks {
		if st.Webhook != "" {
			return true
		}
	}
	return false
}

// CheckWebhook checks a webhook URL: https, or http to a loopback host
// (a local receiver); no user:password, which would be logged nowhere but
// is still a secret in the wrong place.
func CheckWebhook(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("webhook %s is not a URL: use one such as \"https://hooks.slack.com/services/…\"", WebhookLabel(raw))
	}
	if u.User != nil {
		return fmt.Errorf("webhook %s carries a user name or password: put the secret in the URL's path, as Slack does", WebhookLabel(raw))
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("webhook %s uses http to a remote host, which would send plan facts in clear text: use https (http is accepted only for a loopback receiver such as http://127.0.0.1:8080)", WebhookLabel(raw))
	default:
		return fmt.Errorf("webhook %s is not an https URL", WebhookLabel(raw))
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WebhookLabel names a webhook in messages without its secret: a Slack
// webhook URL's path is the credential, so only the host and a short hash
// of the whole URL (to tell two apart) are shown.
func WebhookLabel(raw string) string {
	if raw == "" {
		return absent
	}
	sum := sha256.Sum256([]byte(raw))
	host := "?"
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		host = u.Host // never the user info
	}
	return fmt.Sprintf("%q (sha256 %s…)", host, hex.EncodeToString(sum[:4]))
}

func (l *loader) webhook(where string, nb *notifyBlock) string {
	if nb == nil {
		return ""
	}
	if err := CheckWebhook(nb.Webhook); err != nil {
		l.errorf(nb.WebhookRange, "Invalid webhook", "%s%v", where, err)
		return ""
	}
	return nb.Webhook
}

// webhook merges a webhook, which has no safe direction: the file's webhook
// receives plan facts, so a new or changed one waits for acceptance; a
// removed one stops at once (fewer copies of the facts).
func (m *merger) webhook(setting, accepted, file string) string {
	switch {
	case accepted == file:
		return file
	case file == "":
		m.tighten(setting, WebhookLabel(accepted), absent)
		return ""
	default:
		m.loosen(setting, WebhookLabel(accepted), WebhookLabel(file))
		return accepted
	}
}
