package translate

import (
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// defaultSessionCookie names the affinity cookie of a sessionPersistence without
// sessionName.
const defaultSessionCookie = "ngxgw-session"

// sessionAffinity maps an HTTPRoute rule's sessionPersistence onto nghttpx's
// affinity cookie: a session cookie (no expiry) naming the endpoint, set by the
// proxy on the first answer and followed while that endpoint is in the rule's
// backends. nghttpx cannot give the cookie an expiry or track a lifetime, nor
// follow a header, so those settings make the rule unsupported.
func sessionAffinity(sp *gatewayv1.SessionPersistence) (*model.Affinity, *ruleError) {
	if sp.Type != nil && *sp.Type != gatewayv1.CookieBasedSessionPersistence {
		return nil, unsupported("sessionPersistence type %q is not supported; use Cookie", *sp.Type)
	}
	if c := sp.CookieConfig; c != nil && c.LifetimeType != nil && *c.LifetimeType != gatewayv1.SessionCookieLifetimeType {
		return nil, unsupported("sessionPersistence cookie lifetimeType %q is not supported (the data plane's affinity cookie has no expiry); use Session", *c.LifetimeType)
	}
	if sp.AbsoluteTimeout != nil {
		return nil, unsupported("sessionPersistence absoluteTimeout is not supported: the data plane's affinity cookie does not expire")
	}
	name := defaultSessionCookie
	if sp.SessionName != nil && *sp.SessionName != "" {
		name = *sp.SessionName
	}
	if err := validate.CookieName(name); err != nil {
		return nil, unsupported("sessionPersistence sessionName: %s", err)
	}
	return &model.Affinity{Type: model.AffinityCookie, CookieName: name, CookiePath: "/", CookieSecure: "auto", CookieStickiness: "loose"}, nil
}
