package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

// ErrRejected marks a configuration nghttpx refused. Retrying it cannot help; the
// previous configuration keeps serving.
var ErrRejected = errors.New("nghttpx rejected the configuration")

const (
	revisionPath = "/api/v1beta1/configrevision"
	backendPath  = "/api/v1beta1/backendconfig"
)

// apiAddr finds the API frontend (frontend=HOST,PORT;api...) in a main config and
// returns the address to reach it on loopback.
func apiAddr(main []byte) (string, error) {
	for _, line := range strings.Split(string(main), "\n") {
		line = strings.TrimSpace(line)
		value, ok := strings.CutPrefix(line, "frontend=")
		if !ok {
			continue
		}
		params := strings.Split(value, ";")
		if !containsParam(params[1:], "api") {
			continue
		}
		host, port, ok := strings.Cut(params[0], ",")
		if !ok || strings.HasPrefix(host, "unix:") {
			return "", fmt.Errorf("API frontend %q: only HOST,PORT is supported", value)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return "", fmt.Errorf("API frontend %q: bad port: %w", value, err)
		}
		switch host {
		case "*", "0.0.0.0", "":
			host = "127.0.0.1"
		case "::", "[::]":
			host = "::1"
		}
		return net.JoinHostPort(strings.Trim(host, "[]"), port), nil
	}
	return "", errors.New("main configuration has no API frontend (frontend=127.0.0.1,PORT;api;no-tls)")
}

func containsParam(params []string, p string) bool {
	for _, x := range params {
		if strings.TrimSpace(x) == p {
			return true
		}
	}
	return false
}

// apiClient talks to nghttpx's API frontend. One request per connection, so a
// request after a reload reaches a new worker.
type apiClient struct {
	http *http.Client
}

func newAPIClient() *apiClient {
	return &apiClient{http: &http.Client{Transport: &http.Transport{
		Proxy:             nil, // the API is on loopback: never through a proxy
		DisableKeepAlives: true,
	}}}
}

// apiReply is nghttpx's API answer: {"status":"Success","code":200,"data":{...}}.
type apiReply struct {
	Status string `json:"status"`
	Code   int    `json:"code"`
	Data   struct {
		ConfigRevision *uint64 `json:"configRevision"`
	} `json:"data"`
}

func (c *apiClient) do(ctx context.Context, method, addr, path string, body []byte, timeout time.Duration) (apiReply, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, r)
	if err != nil {
		return apiReply{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return apiReply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return apiReply{}, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	var reply apiReply
	if err := json.Unmarshal(b, &reply); err != nil {
		return apiReply{}, fmt.Errorf("%s %s: HTTP %d, answer %q is not the API's JSON: %w", method, path, resp.StatusCode, b, err)
	}
	if reply.Status != "Success" || resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("%s %s: HTTP %d, status %q", method, path, resp.StatusCode, reply.Status)
		if resp.StatusCode == http.StatusBadRequest {
			err = fmt.Errorf("%w: %w", ErrRejected, err)
		}
		return reply, err
	}
	return reply, nil
}

// revision returns the running configuration's revision (0 after a start, +1 per
// accepted reload).
func (c *apiClient) revision(ctx context.Context, addr string) (uint64, error) {
	reply, err := c.do(ctx, http.MethodGet, addr, revisionPath, nil, 2*time.Second)
	if err != nil {
		return 0, err
	}
	if reply.Data.ConfigRevision == nil {
		return 0, fmt.Errorf("GET %s: no configRevision in the answer", revisionPath)
	}
	return *reply.Data.ConfigRevision, nil
}

// postBackends replaces every backend of the running workers. The body is exactly
// backends.conf: every line ends with a newline (nghttpx ignores an unterminated
// last line).
func (c *apiClient) postBackends(ctx context.Context, addr string, groups []render.BackendGroup, timeout time.Duration) error {
	body := render.BackendConf(groups)
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return fmt.Errorf("backend API body must end with a newline")
	}
	_, err := c.do(ctx, http.MethodPost, addr, backendPath, body, timeout)
	return err
}
