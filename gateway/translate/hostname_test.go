package translate

import (
	"slices"
	"testing"
)

func TestIntersectHostname(t *testing.T) {
	tests := []struct {
		a, b string
		want string
		ok   bool
	}{
		{"", "", "", true},
		{"", "foo.example.com", "foo.example.com", true},
		{"*.example.com", "", "*.example.com", true},
		{"foo.example.com", "foo.example.com", "foo.example.com", true},
		{"foo.example.com", "bar.example.com", "", false},
		{"*.example.com", "foo.example.com", "foo.example.com", true},
		{"*.example.com", "a.b.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", "", false},
		{"*.example.com", "fooexample.com", "", false},
		{"foo.example.com", "*.example.com", "foo.example.com", true},
		{"*.example.com", "*.example.com", "*.example.com", true},
		{"*.example.com", "*.foo.example.com", "*.foo.example.com", true},
		{"*.foo.example.com", "*.com", "*.foo.example.com", true},
		{"*.example.com", "*.example.org", "", false},
		{"*.example.com", "*.badexample.com", "", false},
	}
	for _, tt := range tests {
		got, ok := intersectHostname(tt.a, tt.b)
		if got != tt.want || ok != tt.ok {
			t.Errorf("intersectHostname(%q, %q) = %q, %v; want %q, %v", tt.a, tt.b, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEffectiveHostnames(t *testing.T) {
	tests := []struct {
		listener string
		route    []string
		want     []string
	}{
		{"", nil, []string{""}},
		{"foo.example.com", nil, []string{"foo.example.com"}},
		{"", []string{"b.example.com", "*.example.com", "a.example.com"}, []string{"a.example.com", "b.example.com", "*.example.com"}},
		{"*.example.com", []string{"test.example.com", "test.example.net", "*.com", "test.example.com"}, []string{"test.example.com", "*.example.com"}},
		{"foo.example.com", []string{"bar.example.com"}, nil},
	}
	for _, tt := range tests {
		if got := effectiveHostnames(tt.listener, tt.route); !slices.Equal(got, tt.want) {
			t.Errorf("effectiveHostnames(%q, %q) = %q; want %q", tt.listener, tt.route, got, tt.want)
		}
	}
}

func TestSortHostnames(t *testing.T) {
	hs := []string{"", "*.example.com", "b.example.com", "*.a.example.com", "a.example.com", "*.b.com"}
	sortHostnames(hs)
	want := []string{"a.example.com", "b.example.com", "*.a.example.com", "*.example.com", "*.b.com", ""}
	if !slices.Equal(hs, want) {
		t.Errorf("sortHostnames = %q; want %q", hs, want)
	}
}
