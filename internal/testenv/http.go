package testenv

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// client opens a new connection per request and trusts any certificate: tests talk
// to their own self-signed frontends on loopback.
var client = &http.Client{
	Timeout: 5 * time.Second,
	Transport: &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback test servers
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Do sends req on a new connection and returns status and body. Redirects are
// returned, not followed.
func Do(req *http.Request) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Get fetches url on a new connection and returns status and body.
func Get(url string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	return Do(req)
}

// EchoResponse is the part of echo-basic's JSON answer tests look at.
type EchoResponse struct {
	Path      string              `json:"path"`
	Host      string              `json:"host"`
	Method    string              `json:"method"`
	Proto     string              `json:"proto"`
	Headers   map[string][]string `json:"headers"`
	Namespace string              `json:"namespace"`
	Pod       string              `json:"pod"`
}

// DoEcho sends req and decodes an echo answer; a non-200 status is an error.
func DoEcho(req *http.Request) (EchoResponse, error) {
	status, body, err := Do(req)
	if err != nil {
		return EchoResponse{}, err
	}
	return decodeEcho(req, status, body)
}

// GetEcho fetches url and decodes an echo answer; a non-200 status is an error.
func GetEcho(url string) (EchoResponse, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return EchoResponse{}, err
	}
	return DoEcho(req)
}

func decodeEcho(req *http.Request, status int, body []byte) (EchoResponse, error) {
	if status != http.StatusOK {
		return EchoResponse{}, fmt.Errorf("%s %s (Host %s): status %d: %s", req.Method, req.URL, req.Host, status, tail(string(body), 200))
	}
	var e EchoResponse
	if err := json.Unmarshal(body, &e); err != nil {
		return EchoResponse{}, fmt.Errorf("%s %s (Host %s): not an echo answer %q: %w", req.Method, req.URL, req.Host, tail(string(body), 200), err)
	}
	return e, nil
}
