package controller

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestHoldListenerSets(t *testing.T) {
	cond := func(typ string, s metav1.ConditionStatus, at int64) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: "R", LastTransitionTime: metav1.Unix(at, 0)}
	}
	gw := func(name string, programmed metav1.ConditionStatus) gatewayv1.Gateway {
		g := gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "infra"}}
		g.Status.Conditions = []metav1.Condition{cond("Programmed", programmed, 1)}
		return g
	}
	infra := gatewayv1.Namespace("infra")
	set := func(name, parent string, programmed metav1.ConditionStatus) gatewayv1.ListenerSet {
		s := gatewayv1.ListenerSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team"}}
		s.Spec.ParentRef = gatewayv1.ParentGatewayReference{Name: gatewayv1.ObjectName(parent), Namespace: &infra}
		s.Status.Conditions = []metav1.Condition{cond("Accepted", metav1.ConditionTrue, 1), cond("Programmed", programmed, 5)}
		return s
	}
	gws := []gatewayv1.Gateway{gw("ready", metav1.ConditionTrue), gw("pending", metav1.ConditionFalse)}
	sets := []gatewayv1.ListenerSet{
		set("on-ready", "ready", metav1.ConditionTrue),
		set("on-pending", "pending", metav1.ConditionTrue),
		set("was-held", "pending", metav1.ConditionTrue),
		set("rejected", "pending", metav1.ConditionFalse),
	}
	stored := map[types.NamespacedName][]metav1.Condition{
		{Namespace: "team", Name: "was-held"}: {cond("Programmed", metav1.ConditionFalse, 3)},
	}
	out := holdListenerSets(sets, gws, stored, metav1.Unix(9, 0))
	want := []struct {
		status metav1.ConditionStatus
		reason string
		at     int64
	}{
		{metav1.ConditionTrue, "R", 5},                    // parent programmed: unchanged
		{metav1.ConditionFalse, "ParentNotProgrammed", 9}, // held from now
		{metav1.ConditionFalse, "ParentNotProgrammed", 3}, // still held: keeps its transition time
		{metav1.ConditionFalse, "R", 5},                   // already False: the translator's reason stays
	}
	for i, w := range want {
		c := meta.FindStatusCondition(out[i].Status.Conditions, "Programmed")
		if c.Status != w.status || c.Reason != w.reason || c.LastTransitionTime.Unix() != w.at {
			t.Errorf("%s: Programmed %s/%s at %d, want %s/%s at %d", out[i].Name, c.Status, c.Reason, c.LastTransitionTime.Unix(), w.status, w.reason, w.at)
		}
	}
	if c := meta.FindStatusCondition(sets[1].Status.Conditions, "Programmed"); c.Status != metav1.ConditionTrue {
		t.Error("the input was modified")
	}
}

func TestWithListenerSetPorts(t *testing.T) {
	accepted := []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue}}
	g := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "infra"}}
	g.Spec.Listeners = []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}
	set := func(name, parent string, ok bool, entries ...gatewayv1.ListenerEntry) gatewayv1.ListenerSet {
		s := gatewayv1.ListenerSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "infra"}}
		s.Spec.ParentRef.Name = gatewayv1.ObjectName(parent)
		s.Spec.Listeners = entries
		if ok {
			s.Status.Conditions = accepted
		}
		for _, e := range entries {
			st := gatewayv1.ListenerEntryStatus{Name: e.Name}
			if e.Port != 9999 {
				st.Conditions = accepted
			}
			s.Status.Listeners = append(s.Status.Listeners, st)
		}
		return s
	}
	https := gatewayv1.ListenerEntry{Name: "tls", Port: 8443, Protocol: gatewayv1.HTTPSProtocolType}
	conflicted := gatewayv1.ListenerEntry{Name: "bad", Port: 9999, Protocol: gatewayv1.HTTPProtocolType}
	sets := []gatewayv1.ListenerSet{
		set("mine", "gw", true, https, conflicted),
		set("rejected", "gw", false, gatewayv1.ListenerEntry{Name: "x", Port: 7000, Protocol: gatewayv1.HTTPProtocolType}),
		set("other", "other-gw", true, gatewayv1.ListenerEntry{Name: "y", Port: 7001, Protocol: gatewayv1.HTTPProtocolType}),
	}
	got := withListenerSetPorts(g, sets)
	var ports []gatewayv1.PortNumber
	for _, l := range got.Spec.Listeners {
		ports = append(ports, l.Port)
	}
	if len(ports) != 2 || ports[0] != 80 || ports[1] != 8443 || got.Spec.Listeners[1].Protocol != gatewayv1.HTTPSProtocolType {
		t.Errorf("ports %v", ports)
	}
	if len(g.Spec.Listeners) != 1 {
		t.Error("the Gateway was modified")
	}
	if withListenerSetPorts(g, nil) != g {
		t.Error("a Gateway without ListenerSets is copied")
	}
}
