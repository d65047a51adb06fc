package controller

import (
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	discoveryfake "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestCertificatesServed(t *testing.T) {
	issuers := &metav1.APIResourceList{GroupVersion: "cert-manager.io/v1", APIResources: []metav1.APIResource{{Name: "issuers"}}}
	certs := &metav1.APIResourceList{GroupVersion: "cert-manager.io/v1", APIResources: []metav1.APIResource{{Name: "issuers"}, {Name: "certificates"}}}
	other := &metav1.APIResourceList{GroupVersion: "cert-manager.io/v1alpha9", APIResources: []metav1.APIResource{{Name: "certificates"}}}
	tests := []struct {
		name      string
		resources []*metav1.APIResourceList
		fail      error
		want      bool
		wantErr   bool
	}{
		{"no group (404)", nil, nil, false, false},
		{"another version only", []*metav1.APIResourceList{other}, nil, false, false},
		{"group without certificates", []*metav1.APIResourceList{issuers}, nil, false, false},
		{"certificates served", []*metav1.APIResourceList{certs}, nil, true, false},
		{"discovery fails", []*metav1.APIResourceList{certs}, errors.New("connection refused"), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &discoveryfake.FakeDiscovery{Fake: &clienttesting.Fake{Resources: tt.resources}}
			if tt.fail != nil {
				f.AddReactor("*", "*", func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, tt.fail })
			}
			got, err := certificatesServed(f)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("certificatesServed = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
