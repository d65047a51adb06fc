package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

func output(withModel bool, ours bool, s *model.Settings) *pipeline.Output {
	out := &pipeline.Output{Translation: &translate.Result{}}
	if ours {
		out.Translation.Gateways = []gatewayv1.Gateway{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gw"}}}
	}
	if withModel {
		out.Gateways = []pipeline.RenderedGateway{{Model: &model.Gateway{
			Source: model.ObjectRef{Kind: "Gateway", Namespace: "ns", Name: "gw"}, Settings: s,
		}}}
	}
	return out
}

func TestSettingsSourceKeepsLastKnown(t *testing.T) {
	c := &Controller{}
	get := c.settingsSource()
	if s := get("ns", "gw"); s != nil {
		t.Errorf("before any translation: %+v", s)
	}
	pp := &model.Settings{ProxyProtocol: true}
	steps := []struct {
		what string
		out  *pipeline.Output
		want *model.Settings
	}{
		{"model with settings", output(true, true, pp), pp},
		{"model lost (class parameters unusable)", output(false, true, nil), pp},
		{"model back without settings", output(true, true, nil), nil},
		{"model with settings again", output(true, true, pp), pp},
		{"Gateway gone", output(false, false, nil), nil},
		{"back, without a model: nothing remembered", output(false, true, nil), nil},
	}
	for _, st := range steps {
		c.out = st.out
		if got := get("ns", "gw"); got != st.want {
			t.Errorf("%s: settings %+v, want %+v", st.what, got, st.want)
		}
		if got := get("ns", "other"); got != nil {
			t.Errorf("%s: another Gateway got %+v", st.what, got)
		}
	}
}
