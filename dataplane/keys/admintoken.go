package keys

import (
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
)

// The admin token authenticates the controller to each proxy's /status. It is
// one more entry of the Gateway's keys Secret, created with the Secret and kept
// across rotations, so only who can read that Secret (the controller, the
// Gateway's proxies, the namespace's Secret readers) can read /status.
const (
	DataAdminToken = "admin-token"
	// AdminTokenHeader carries the token (not Authorization: the API server's
	// pod proxy drops that one).
	AdminTokenHeader = "X-Nghttpx-Gateway-Admin-Token"
	adminTokenBytes  = 32
)

// NewAdminToken returns a fresh token (hex, 64 characters).
func NewAdminToken(rnd io.Reader) ([]byte, error) {
	b := make([]byte, adminTokenBytes)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	return []byte(hex.EncodeToString(b)), nil
}

// ValidAdminToken reports whether t looks like a token NewAdminToken made.
func ValidAdminToken(t []byte) bool {
	if len(t) != 2*adminTokenBytes {
		return false
	}
	_, err := hex.DecodeString(string(t))
	return err == nil
}

// AdminTokenMatches compares a presented token with the expected one in
// constant time; an empty expected token matches nothing.
func AdminTokenMatches(expected []byte, presented string) bool {
	return len(expected) > 0 && subtle.ConstantTimeCompare(expected, []byte(presented)) == 1
}
