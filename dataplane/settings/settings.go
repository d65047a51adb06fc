package settings

import (
	"flag"
	"strconv"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Defaults of the proxy role (Proxy).
const (
	DefaultAdminPort = 9901
	// ProxyStateDir is where the proxy keeps nghttpx's files: an emptyDir per pod.
	ProxyStateDir      = "/var/lib/nghttpx-gateway"
	DefaultDrainPeriod = 5 * time.Second
)

// Settings of one data plane.
type Settings struct {
	// Workers is nghttpx's number of worker threads; 0: the CPUs given to the
	// process running nghttpx (RenderOptions takes them from its base).
	Workers int
	// HTTP3 serves HTTP/3 on HTTPS listeners when nghttpx can.
	HTTP3 bool
	// QUICRequireToken: QUIC clients must present a valid token (address
	// validation). It means nothing without HTTP3, and Args leaves it out then.
	QUICRequireToken bool
	// ProxyProtocol: every TCP listener requires a PROXY protocol header.
	ProxyProtocol bool
	// AccessLog is the access log format. "" leaves the render options' own
	// (RenderOptions) and is json on the command line (Flags, Args).
	AccessLog accesslog.Format

	// The proxy role's own (Flags with proxy set).

	// AdminPort serves /healthz, /readyz and /status.
	AdminPort int
	// StateDir is the parent of nghttpx's state directory.
	StateDir string
	// DrainPeriod is how long readiness fails before nghttpx stops.
	DrainPeriod time.Duration
}

// Proxy returns the proxy role's defaults, which are its flags' defaults.
func Proxy() Settings {
	return Settings{HTTP3: true, AccessLog: accesslog.FormatJSON, AdminPort: DefaultAdminPort, StateDir: ProxyStateDir,
		DrainPeriod: DefaultDrainPeriod}
}

// Resolve lays a Gateway's resolved settings (GatewayClass parameters and
// annotations, from its model; nil: none) over s: HTTP3 and Workers when set,
// PROXY protocol, and QUIC address validation, which they can only turn on.
func (s Settings) Resolve(m *model.Settings) Settings {
	if m == nil {
		return s
	}
	if m.HTTP3 != nil {
		s.HTTP3 = *m.HTTP3
	}
	if m.Workers > 0 {
		s.Workers = m.Workers
	}
	s.ProxyProtocol = m.ProxyProtocol
	s.QUICRequireToken = s.QUICRequireToken || m.QUICRequireToken
	if m.AccessLog != "" {
		s.AccessLog = accesslog.Format(m.AccessLog)
	}
	return s
}

// Of reads the settings that ro carries (the inverse of RenderOptions for those
// fields).
func Of(ro render.Options) Settings {
	return Settings{Workers: ro.Workers, HTTP3: ro.HTTP3, QUICRequireToken: ro.QUICRequireToken, ProxyProtocol: ro.ProxyProtocol,
		AccessLog: ro.AccessLog}
}

// RenderOptions returns base with the settings that shape nghttpx's
// configuration. HTTP/3 is on only where base.Features has QUIC. Workers 0
// keeps base.Workers: the caller's count of its CPUs (internal/cpulimit).
func (s Settings) RenderOptions(base render.Options) render.Options {
	if s.Workers != 0 {
		base.Workers = s.Workers
	}
	base.HTTP3 = s.HTTP3 && base.Features.QUIC
	base.QUICRequireToken = s.QUICRequireToken
	base.ProxyProtocol = s.ProxyProtocol
	if s.AccessLog != "" {
		// Unset keeps base's: translate renders no access log unless asked.
		base.AccessLog = s.AccessLog
	}
	return base
}

// Args are the proxy command's arguments for s: what Flags(fs, true) parses
// back into s. Workers 0 (the pod's CPUs, the default) is left out.
func (s Settings) Args() []string {
	args := []string{
		"--admin-port=" + strconv.Itoa(s.AdminPort),
		"--state-dir=" + s.StateDir,
		"--http3=" + strconv.FormatBool(s.HTTP3),
		"--drain-period=" + s.DrainPeriod.String(),
	}
	if s.Workers != 0 {
		args = append(args, "--workers="+strconv.Itoa(s.Workers))
	}
	if s.ProxyProtocol {
		args = append(args, "--proxy-proto")
	}
	if s.HTTP3 && s.QUICRequireToken {
		args = append(args, "--quic-require-token")
	}
	if f := s.accessLog(); f != accesslog.FormatJSON {
		args = append(args, "--access-log="+string(f))
	}
	return args
}

func (s Settings) accessLog() accesslog.Format {
	if s.AccessLog == "" {
		return accesslog.FormatJSON
	}
	return s.AccessLog
}

// formatFlag parses --access-log into a Format.
type formatFlag struct{ f *accesslog.Format }

func (v formatFlag) String() string {
	if v.f == nil {
		return ""
	}
	return string(*v.f)
}

func (v formatFlag) Set(s string) error {
	f, err := accesslog.ParseFormat(s)
	if err == nil {
		*v.f = f
	}
	return err
}

// Flags defines the flags of s on fs, with s's current values as defaults:
// workers, http3 and state-dir for every role that runs nghttpx; with proxy also
// proxy-proto, quic-require-token, admin-port and drain-period.
func (s *Settings) Flags(fs *flag.FlagSet, proxy bool) {
	fs.IntVar(&s.Workers, "workers", s.Workers, "nghttpx worker threads per Gateway; 0: the CPUs given to the process (cgroup CPU quota, else all it may use)")
	fs.BoolVar(&s.HTTP3, "http3", s.HTTP3, "also serve HTTP/3 (QUIC, same port over UDP) on HTTPS listeners when nghttpx supports it")
	fs.StringVar(&s.StateDir, "state-dir", s.StateDir, "directory for nghttpx's files, one subdirectory per Gateway")
	if s.AccessLog == "" {
		s.AccessLog = accesslog.FormatJSON
	}
	fs.Var(formatFlag{&s.AccessLog}, "access-log",
		"access log on stdout: json (one object per request with its route), nghttpx (nghttpx's default text format) or off (no log and no request metrics); a Gateway's annotation "+
			"gateway.nghttpx.zlab.co.jp/access-log overrides it")
	if !proxy {
		return
	}
	fs.BoolVar(&s.ProxyProtocol, "proxy-proto", s.ProxyProtocol, "every TCP listener requires a PROXY protocol (v1/v2) header")
	fs.BoolVar(&s.QUICRequireToken, "quic-require-token", s.QUICRequireToken,
		"QUIC clients must present a token (address validation): one without gets a Retry (GatewayClass parameter quicRequireToken)")
	fs.IntVar(&s.AdminPort, "admin-port", s.AdminPort,
		"port of /healthz, /readyz and /status (all interfaces; /status needs the admin token of the Gateway's keys Secret)")
	fs.DurationVar(&s.DrainPeriod, "drain-period", s.DrainPeriod, "on SIGTERM, how long readiness fails before nghttpx stops")
}
