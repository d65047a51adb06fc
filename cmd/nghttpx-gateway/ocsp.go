package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/crypto/ocsp"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
)

// OCSP stapling from TLS Secrets. nghttpx runs its fetch-ocsp-response-file
// program with the certificate path as the only argument (no subcommand can be
// passed), so the program is a symlink to this binary under ocspProgramName, and
// main dispatches on that name; `nghttpx-gateway ocsp-response CERT` does the same
// by hand.
const (
	ocspProgramName = "nghttpx-gateway-fetch-ocsp-response"
	ocspCommand     = "ocsp-response"
)

// ocspFlags are --ocsp-stapling and --ocsp-secret-key, plus the original nghttpx
// Ingress controller's names for them.
type ocspFlags struct {
	enabled bool
	key     string
}

func (f *ocspFlags) register(fs *flag.FlagSet) {
	const enabledHelp = "staple the DER OCSP response stored in each certificate's Secret (see --ocsp-secret-key), once it checks out " +
		"against the certificate and its issuer, and report it in the listener condition " + translate.ListenerConditionOCSPStapled
	const keyHelp = "Secret key of the DER OCSP response"
	fs.BoolVar(&f.enabled, "ocsp-stapling", false, enabledHelp)
	fs.StringVar(&f.key, "ocsp-secret-key", translate.OCSPResponseKey, keyHelp)
	fs.BoolVar(&f.enabled, "fetch-ocsp-resp-from-secret", false, "alias of --ocsp-stapling (nghttpx Ingress controller)")
	fs.StringVar(&f.key, "ocsp-resp-key", translate.OCSPResponseKey, "alias of --ocsp-secret-key (nghttpx Ingress controller)")
}

func (f *ocspFlags) validate() error {
	if f.key == "" {
		return errors.New("--ocsp-secret-key must not be empty")
	}
	return nil
}

// options are the translator's OCSP options; supported is whether the data plane
// can staple (the controller assumes its proxies' nghttpx can).
func (f *ocspFlags) options(supported bool) translate.OCSPOptions {
	return translate.OCSPOptions{Enabled: f.enabled, SecretKey: f.key, Unsupported: f.enabled && !supported}
}

// proxyArgs pass the settings on to the data-plane proxies.
func (f *ocspFlags) proxyArgs() []string {
	if !f.enabled {
		return nil
	}
	return []string{"--ocsp-stapling=true", "--ocsp-secret-key=" + f.key}
}

// setup prepares stapling for a data plane whose nghttpx was probed: it installs
// the fetch program in stateDir and turns it on in ro. It returns the translator's
// options.
func (f *ocspFlags) setup(log logr.Logger, dp dataPlane, ro *render.Options) (translate.OCSPOptions, error) {
	if !f.enabled {
		return translate.OCSPOptions{}, nil
	}
	if !dp.feat.OCSP {
		log.Info("OCSP stapling is enabled but nghttpx cannot staple; listeners report it (reason Unsupported)", "nghttpx", dp.bin)
		return f.options(false), nil
	}
	prog, err := installOCSPProgram(dp.stateDir)
	if err != nil {
		return translate.OCSPOptions{}, err
	}
	ro.Features.OCSP = true
	ro.OCSPFetchProgram = prog
	return f.options(true), nil
}

// installOCSPProgram links ocspProgramName in dir to this executable (replacing
// an older link atomically) and returns the link's path.
func installOCSPProgram(dir string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("OCSP fetch program: locate this executable: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return "", fmt.Errorf("OCSP fetch program: %w", err)
	}
	link := filepath.Join(dir, ocspProgramName)
	tmp := link + ".tmp" + strconv.Itoa(os.Getpid())
	_ = os.Remove(tmp)
	if err := os.Symlink(exe, tmp); err != nil {
		return "", fmt.Errorf("OCSP fetch program: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("OCSP fetch program: %w", err)
	}
	return link, nil
}

// ocspFetchMain is the fetch program: it writes the response stored next to the
// certificate (CERT.ocsp, put there by the renderer only after the translator
// checked it) to stdout. It never uses the network. It fails, so that nghttpx
// staples nothing new, when there is no response, or when the file does not
// parse, is about another certificate, is not "good" or has expired: nghttpx
// built with BoringSSL does not verify what it staples.
func ocspFetchMain(args []string, stdout, stderr io.Writer, now time.Time) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "usage: nghttpx-gateway %s CERTIFICATE-FILE (run by nghttpx as its fetch-ocsp-response-file)\n", ocspCommand)
		return 2
	}
	der, err := ocspResponseFor(args[0], now)
	if err != nil {
		fmt.Fprintf(stderr, "nghttpx-gateway %s: %v\n", ocspCommand, err)
		return 1
	}
	if _, err := stdout.Write(der); err != nil {
		fmt.Fprintf(stderr, "nghttpx-gateway %s: %v\n", ocspCommand, err)
		return 1
	}
	return 0
}

func ocspResponseFor(certFile string, now time.Time) ([]byte, error) {
	der, err := os.ReadFile(certFile + ".ocsp")
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no OCSP response for %s: nothing to staple", certFile)
	}
	if err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", certFile)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	// The signature was checked by the translator against the Secret's chain.
	resp, err := ocsp.ParseResponseForCert(der, leaf, nil)
	if err != nil {
		return nil, fmt.Errorf("%s.ocsp: %w", certFile, err)
	}
	if resp.Status != ocsp.Good {
		return nil, fmt.Errorf("%s.ocsp: certificate status is not good", certFile)
	}
	if !resp.NextUpdate.IsZero() && !now.Before(resp.NextUpdate) {
		return nil, fmt.Errorf("%s.ocsp: expired at %s", certFile, resp.NextUpdate.UTC().Format(time.RFC3339))
	}
	return der, nil
}

// renderFor turns stapling on in the render options of `translate`, with the
// program where run and proxy install it under stateDir.
func (f *ocspFlags) renderFor(ro render.Options, stateDir string) render.Options {
	if f.enabled {
		ro.Features.OCSP = true
		ro.OCSPFetchProgram = filepath.Join(stateDir, ocspProgramName)
	}
	return ro
}
