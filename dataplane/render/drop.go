package render

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Dropped is a piece of the model the renderer left out because it cannot be
// written safely. The translator rejects all of these first (package
// dataplane/validate), so a non-empty Config.Dropped means the two disagree: the
// caller reports it (the Gateway is then not Programmed) and serves the rest.
type Dropped struct {
	// Source is the object the piece came from.
	Source model.ObjectRef `json:"source"`
	// What names the piece: "port 9901", "listener http", "rule httproute/...".
	What   string `json:"what"`
	Reason string `json:"reason"`
}

func (d Dropped) String() string { return d.What + ": " + d.Reason }

// usablePorts returns gw with the ports nghttpx cannot open left out: out of
// range, used twice, taken by the data plane itself (API, health, mirror ports) or
// of an unknown protocol. gw is not modified.
func usablePorts(gw *model.Gateway, opts Options) (*model.Gateway, []Dropped) {
	reserved := map[int]string{opts.APIPort: "the backend API port"}
	if opts.HealthPort != 0 {
		reserved[opts.HealthPort] = "the health port"
	}
	if opts.MirrorTeePort != 0 {
		reserved[opts.MirrorTeePort] = "the mirror tee's port"
		reserved[opts.MirrorInternalPort] = "the mirror's internal frontend"
	}
	var dropped []Dropped
	seen := map[int32]bool{}
	var ports []model.Port
	for _, p := range gw.Ports {
		why := ""
		switch {
		case checkPort(p.Port) != nil:
			why = checkPort(p.Port).Error()
		case seen[p.Port]:
			why = "port used twice"
		case reserved[int(p.Port)] != "":
			why = "the data plane uses it itself (" + reserved[int(p.Port)] + ")"
		case p.Protocol != model.ProtocolHTTP && p.Protocol != model.ProtocolHTTPS:
			why = fmt.Sprintf("protocol %q not supported", p.Protocol)
		}
		if why == "" {
			seen[p.Port] = true
			ports = append(ports, p)
			continue
		}
		for _, l := range p.Listeners {
			dropped = append(dropped, Dropped{Source: l.Source, What: "port " + strconv.Itoa(int(p.Port)), Reason: why})
		}
	}
	if len(dropped) == 0 {
		return gw, nil
	}
	out := *gw
	out.Ports = ports
	return &out, dropped
}

func sortDropped(ds []Dropped) {
	slices.SortStableFunc(ds, func(a, b Dropped) int {
		if c := strings.Compare(a.What, b.What); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
}
