package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/golden"
)

// TestMain runs the tests from the repository root, where the generator runs.
func TestMain(m *testing.M) {
	if err := os.Chdir("../.."); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// TestNoticesCurrent fails when THIRD_PARTY_NOTICES.md no longer matches what the
// binary links and the nghttpx build pins (a module added, bumped or removed).
func TestNoticesCurrent(t *testing.T) {
	mods, err := linkedModules("./cmd/nghttpx-gateway")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("hack/build-nghttpx.sh")
	if err != nil {
		t.Fatal(err)
	}
	pins := buildPins(string(script))
	if len(pins) < 6 {
		t.Fatalf("found %d version pins in hack/build-nghttpx.sh, want nghttp2, ngtcp2, mruby, nghttp3, BoringSSL, libbpf: %+v", len(pins), pins)
	}
	for _, p := range pins {
		if strings.HasPrefix(p.License, "unknown") {
			t.Errorf("pin %s %s: licence unknown; add it to pinLicenses", p.Name, p.Version)
		}
	}
	for _, m := range mods {
		if m.License == "see text" {
			t.Logf("%s: licence not recognised; its text is included", m.Path)
		}
	}
	var b bytes.Buffer
	if err := write(&b, mods, pins); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "THIRD_PARTY_NOTICES.md", b.Bytes())
}

func TestClassify(t *testing.T) {
	apache, err := os.ReadFile("LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]string{
		string(apache): "Apache-2.0",
		"MIT License\n\nPermission is hereby granted, free of charge, to any person": "MIT",
		"Redistribution and use in source and binary forms ... Neither the name of":  "BSD-3-Clause",
		"Redistribution and use in source and binary forms, with or without":         "BSD-2-Clause",
		"ISC License\n\nPermission to use, copy, modify, and/or distribute":          "ISC",
		"All rights reserved.": "see text",
	} {
		if got := classify(text); got != want {
			t.Errorf("classify(%.40q) = %s, want %s", text, got, want)
		}
	}
}
