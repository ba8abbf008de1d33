package native

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The committed assembly must be exactly what _generate writes: edit the
// generator, then `go generate ./native`.
func TestGeneratedAssemblyUpToDate(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go toolchain not in PATH: cannot run the generator")
	}
	out := t.TempDir()
	cmd := exec.Command(goBin, "run", ".", "-out", out)
	cmd.Dir = "_generate"
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("running the generator: %v\n%s", err, msg)
	}
	for _, name := range []string{"avx512_amd64.s", "avx2_amd64.s", "neon_arm64.s"} {
		want, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output: run `go generate ./native`", name)
		}
	}
}
