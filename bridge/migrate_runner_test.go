package bridge

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"
)

func TestDeadLocalRunner(t *testing.T) {
	host, _ := os.Hostname()
	if deadLocalRunner(RunnerID()) {
		t.Error("this process was taken for dead")
	}
	if deadLocalRunner("some-other-host/1") {
		t.Error("a runner on another host was taken for dead")
	}
	for _, bad := range []string{"", "nohost", host + "/x", host + "/0", host + "/-3"} {
		if deadLocalRunner(bad) {
			t.Errorf("%q taken for a dead runner", bad)
		}
	}
	if runtime.GOOS == "windows" {
		t.Skip("process existence is not checked on windows; the lease decides")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if runner := fmt.Sprintf("%s/%d", host, cmd.Process.Pid); !deadLocalRunner(runner) {
		t.Errorf("%s has exited but was not taken for dead", runner)
	}
}
