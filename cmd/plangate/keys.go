package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/config"
)

// keyDir is where keygen writes keys and approve looks for them.
func keyDir() (string, error) {
	if d := os.Getenv("PLANGATE_KEY_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory for keys (%v): pass --out / --key", err)
	}
	return filepath.Join(d, "plangate"), nil
}

func defaultKeyPath(approver string) (string, error) {
	d, err := keyDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, approver+".key"), nil
}

func runKeygen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keygen", "", "Create an approver key pair. The private key file (mode 0600) never leaves this machine; paste the printed approver block into plangate.hcl. Keep keys where the agent cannot read them, ideally passphrase-protected.", stdout, stderr)
	name := fs.String("name", "", "approver name, as it will appear in plangate.hcl and the audit log (required)")
	out := fs.String("out", "", "private key file (default: <user config dir>/plangate/<name>.key, or $PLANGATE_KEY_DIR/<name>.key)")
	withPass := fs.Bool("passphrase", false, "encrypt the key with a passphrase read from the terminal")
	passFile := fs.String("passphrase-file", "", "encrypt the key with the passphrase on the first line of this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usageError(fs, "--name is required: the approver's name, as plangate.hcl will know it (for example --name oncall)")
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q (a passphrase is asked for on the terminal with --passphrase, or read with --passphrase-file)", fs.Arg(0))
	}
	path := *out
	if path == "" {
		p, err := defaultKeyPath(*name)
		if err != nil {
			return err
		}
		path = p
	}
	var pass []byte
	switch {
	case *passFile != "":
		p, err := readPassphraseFile(*passFile)
		if err != nil {
			return err
		}
		pass = p
	case *withPass:
		p, err := promptNewPassphrase(stderr)
		if err != nil {
			return err
		}
		pass = p
	}
	pub, priv, err := approvals.GenerateKey()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := approvals.WritePrivateKey(path, *name, priv, pass); err != nil {
		return err
	}
	enc := "unencrypted: keep it where no agent can read it, or re-create it with --passphrase"
	if len(pass) > 0 {
		enc = "encrypted with your passphrase"
	}
	fmt.Fprintf(stdout, "Wrote the private key of approver %q to %s (%s).\n\nPaste this into plangate.hcl:\n\n", *name, path, enc)
	fmt.Fprintf(stdout, "approver %q {\n  public_key = %q\n}\n", *name, config.FormatPublicKey(pub))
	return nil
}

func readPassphraseFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("passphrase file: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimRight(line, "\r")
	if len(line) == 0 {
		return nil, fmt.Errorf("passphrase file %s is empty", path)
	}
	return line, nil
}

// openTTY opens the controlling terminal for prompts, so that prompts work
// even when stdout is piped (the token is captured from stdout).
func openTTY() (*os.File, error) {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, errors.New("no terminal to ask on: pass --passphrase-file (and --yes to skip the confirmation)")
	}
	return f, nil
}

func promptPassphrase(prompt string) ([]byte, error) {
	tty, err := openTTY()
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	p, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, fmt.Errorf("reading passphrase: %w", err)
	}
	return p, nil
}

func promptNewPassphrase(stderr io.Writer) ([]byte, error) {
	p1, err := promptPassphrase("New passphrase for the approver key: ")
	if err != nil {
		return nil, err
	}
	if len(p1) < 8 {
		return nil, errors.New("passphrase too short: use at least 8 characters")
	}
	p2, err := promptPassphrase("Repeat the passphrase: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p1, p2) {
		return nil, errors.New("the passphrases differ: nothing written")
	}
	return p1, nil
}

// signingKey is how a command that signs as an approver (approve,
// unfreeze) is given the key: the same flags and the same lookup for all.
type signingKey struct {
	approver, key, passFile *string
}

func signingKeyFlags(fs *flag.FlagSet) signingKey {
	return signingKey{
		approver: fs.String("approver", "", "approver name whose key to use (default: the one configured approver with a key in the key dir)"),
		key:      fs.String("key", "", "private key file (default: $PLANGATE_KEY, else <user config dir>/plangate/<approver>.key)"),
		passFile: fs.String("passphrase-file", "", "read the key's passphrase from the first line of this file instead of the terminal"),
	}
}

// read finds the key (findKey) and reads it, asking for its passphrase if
// it has one. It returns the key and the file it came from; it does not
// check that the key is one of cfg's approvers.
func (s signingKey) read(cfg *config.Config) (*approvals.PrivateKey, string, error) {
	path, err := findKey(cfg, *s.key, *s.approver)
	if err != nil {
		return nil, "", err
	}
	key, err := approvals.ReadPrivateKey(path, func() ([]byte, error) {
		if *s.passFile != "" {
			return readPassphraseFile(*s.passFile)
		}
		return promptPassphrase("Passphrase for " + path + ": ")
	})
	if err != nil {
		return nil, path, err
	}
	if *s.approver != "" && key.Approver != *s.approver {
		return nil, path, fmt.Errorf("%s holds the key of approver %q, not %q", path, key.Approver, *s.approver)
	}
	return key, path, nil
}

// noKeyError: findKey found no key file to use.
type noKeyError struct{ dir, config string }

func (e *noKeyError) Error() string {
	return fmt.Sprintf("no approver key found in %s for the approvers of %s: pass --key <file> (plangate keygen --name <you> creates one)", e.dir, e.config)
}

// findKey picks the approver key to sign with: --key, else $PLANGATE_KEY,
// else the key file of --approver, else the one configured approver whose
// key file exists in the key directory. Finding none is a *noKeyError.
func findKey(cfg *config.Config, keyFlag, approverFlag string) (string, error) {
	if keyFlag != "" {
		return keyFlag, nil
	}
	if k := os.Getenv("PLANGATE_KEY"); k != "" {
		return k, nil
	}
	if approverFlag != "" {
		return defaultKeyPath(approverFlag)
	}
	var found []string
	for _, a := range cfg.Approvers {
		p, err := defaultKeyPath(a.Name)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(p); err == nil {
			found = append(found, p)
		}
	}
	dir, _ := keyDir()
	switch len(found) {
	case 0:
		return "", &noKeyError{dir: dir, config: cfg.Path}
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("several approver keys found (%s): pass --approver <name> or --key <file>", strings.Join(found, ", "))
	}
}

// confirm asks the human to type the stack name, on stdin as Terraform
// asks for "yes" (the question goes to stderr: stdout ends with the token
// alone). A script that means to approve passes --yes instead.
func confirm(in io.Reader, prompt io.Writer, stack, planID, approver string) (bool, error) {
	fmt.Fprintf(prompt, "\nApprove plan %s as %s? Type the stack name (%s) to approve, anything else to cancel: ", planID, approver, stack)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return false, errors.New("no answer on standard input: type the stack name to approve, or pass --yes (scripts only)")
	}
	return strings.TrimSpace(line) == stack, nil
}
