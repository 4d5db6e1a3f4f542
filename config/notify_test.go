package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const slackHook = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"

func withWebhooks(src, top, stack string) string {
	if stack != "" {
		src = strings.Replace(src, `dir       = "infra/web"`, `dir       = "infra/web"
  notify { webhook = "`+stack+`" }`, 1)
	}
	if top != "" {
		src = "notify { webhook = \"" + top + "\" }\n" + src
	}
	return src
}

func TestLoadWebhooks(t *testing.T) {
	dir := filepath.Dir(writeConfig(t, ""))
	key := testKey(t)

	cfg := loadSrc(t, dir, withWebhooks(baseline(key), slackHook, ""))
	assert.Equal(t, slackHook, cfg.Webhook)
	assert.Equal(t, slackHook, cfg.WebhookFor("web"), "a stack without its own notify block uses the top-level one")
	assert.True(t, cfg.HasWebhooks())

	cfg = loadSrc(t, dir, withWebhooks(baseline(key), slackHook, "http://127.0.0.1:9999/hook"))
	assert.Equal(t, "http://127.0.0.1:9999/hook", cfg.WebhookFor("web"), "a stack's own webhook replaces the top-level one")
	assert.Equal(t, slackHook, cfg.WebhookFor("other"))

	cfg = loadSrc(t, dir, baseline(key))
	assert.False(t, cfg.HasWebhooks())
	assert.Empty(t, cfg.WebhookFor("web"))
}

func TestWebhookMustBeHTTPS(t *testing.T) {
	tests := []struct {
		url  string
		want string // "" = accepted
	}{
		{slackHook, ""},
		{"http://127.0.0.1:8080/x", ""},
		{"http://localhost:8080/x", ""},
		{"http://[::1]:8080/x", ""},
		{"http://hooks.example.com/x", "use https"},
		{"ftp://hooks.example.com/x", "not an https URL"},
		{"hooks.example.com/x", "not a URL"},
		{"https://user:pw@hooks.example.com/x", "user name or password"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckWebhook(tt.url)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			assert.NotContains(t, err.Error(), "/x", "the error never repeats the URL's path")
			assert.NotContains(t, err.Error(), "pw")
		})
	}
}

func TestLoadWebhookErrorNamesLine(t *testing.T) {
	src := baseline(testKey(t)) + "notify {\n  webhook = \"http://hooks.example.com/SECRET\" # ERR\n}\n"
	path := writeConfig(t, src)
	_, err := Load(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("plangate.hcl:%d,", markedLine(t, src, "# ERR")))
	assert.Contains(t, err.Error(), "Invalid webhook")
	assert.Contains(t, err.Error(), "use https")

	src = strings.Replace(baseline(testKey(t)), `dir       = "infra/web"`, "dir = \"infra/web\"\n  notify { webhook = \"nope\" } # ERR", 1)
	_, err = Load(writeConfig(t, src))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `stack "web": webhook`)
}

func TestMergeWebhooks(t *testing.T) {
	dir := filepath.Dir(writeConfig(t, ""))
	key := testKey(t)
	const other = "https://attacker.example.com/collect"
	tests := []struct {
		name           string
		accepted, file [2]string // top-level, stack
		want           [2]string // effective top-level, stack
		loosens        bool
		changes        int
	}{
		{"same", [2]string{slackHook, ""}, [2]string{slackHook, ""}, [2]string{slackHook, ""}, false, 0},
		{"added top-level waits", [2]string{"", ""}, [2]string{other, ""}, [2]string{"", ""}, true, 1},
		{"changed top-level waits", [2]string{slackHook, ""}, [2]string{other, ""}, [2]string{slackHook, ""}, true, 1},
		{"added stack webhook waits", [2]string{slackHook, ""}, [2]string{slackHook, other}, [2]string{slackHook, ""}, true, 1},
		{"removed applies at once", [2]string{slackHook, slackHook}, [2]string{"", ""}, [2]string{"", ""}, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := loadSrc(t, dir, withWebhooks(baseline(key), tt.accepted[0], tt.accepted[1]))
			f := loadSrc(t, dir, withWebhooks(baseline(key), tt.file[0], tt.file[1]))
			eff, changes := Merge(a, f)
			require.Len(t, changes, tt.changes)
			assert.Equal(t, tt.want[0], eff.Webhook)
			assert.Equal(t, tt.want[1], eff.Stacks[0].Webhook)
			for _, c := range changes {
				assert.Equal(t, tt.loosens, c.Loosens, c.String())
				assert.NotContains(t, c.String(), "XXXXSECRET", "a change names the webhook's host, never its secret path")
				assert.NotContains(t, c.String(), "/collect")
			}
		})
	}
}

func TestAcceptedWebhooksRoundTrip(t *testing.T) {
	dir := filepath.Dir(writeConfig(t, ""))
	cfg := loadSrc(t, dir, withWebhooks(baseline(testKey(t)), slackHook, "http://127.0.0.1:1/h"))
	a := &Accepted{Version: 1, ConfigSHA256: strings.Repeat("ab", 32), AcceptedAt: fixedTime, How: AcceptedFirstUse, Settings: SettingsOf(cfg)}
	b, err := a.Marshal()
	require.NoError(t, err)
	_, back, err := ParseAccepted(b, cfg.Path)
	require.NoError(t, err)
	assert.Equal(t, slackHook, back.Webhook)
	assert.Equal(t, "http://127.0.0.1:1/h", back.Stacks[0].Webhook)
	_, changes := Merge(back, cfg)
	assert.Empty(t, changes)

	for name, edit := range map[string]func(*Accepted){
		"top-level http": func(a *Accepted) { a.Settings.Webhook = "http://evil.example.com/x" },
		"stack not url":  func(a *Accepted) { a.Settings.Stacks[0].Webhook = "nope" },
	} {
		t.Run(name, func(t *testing.T) {
			bad := *a
			bad.Settings = SettingsOf(cfg)
			edit(&bad)
			b, err := bad.Marshal()
			require.NoError(t, err)
			_, _, err = ParseAccepted(b, cfg.Path)
			require.Error(t, err)
		})
	}
}
