package oasistelegraf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
)

// In the compose stack Telegraf sees the node's data filesystem only
// through OASIS_NODE_VOLUME_DIR, a directory bind-mounted read-only at
// /node/volume. telegraf-compose.conf's disk input, loaded by Telegraf's
// own loader, must report that filesystem's usage under the mount's path
// (here a real read-only bind mount of a temporary directory in its place).
func TestComposeDiskInputSeesTheNodeVolume(t *testing.T) {
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("bind-mounting needs root, as CI has")
		}
		t.Skip("bind-mounting needs root")
	}
	src, dst := t.TempDir(), t.TempDir()
	mount := func(args ...string) {
		out, err := exec.Command("mount", args...).CombinedOutput()
		require.NoError(t, err, "mount %v: %s", args, out)
	}
	mount("--bind", src, dst)
	t.Cleanup(func() { _ = exec.Command("umount", dst).Run() })
	mount("-o", "remount,ro,bind", dst)

	raw, err := os.ReadFile("../../telegraf-compose.conf")
	require.NoError(t, err)
	require.Contains(t, string(raw), `mount_points = ["/node/volume", "/"]`)
	conf := filepath.Join(t.TempDir(), "telegraf-compose.conf")
	require.NoError(t, os.WriteFile(conf, []byte(strings.ReplaceAll(string(raw), "/node/volume", dst)), 0o644))

	cfg := config.NewConfig()
	require.NoError(t, cfg.LoadConfig(conf))
	require.Len(t, cfg.Inputs, 1, "the compose stack's only extra input is disk")
	in := cfg.Inputs[0]
	require.Equal(t, "disk", in.Config.Name)
	require.NoError(t, in.Init())
	var acc testutil.Accumulator
	require.NoError(t, in.Gather(&acc))
	require.Empty(t, acc.Errors)
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(src, &st))
	byPath := map[string]telegraf.Metric{}
	for _, m := range acc.GetTelegrafMetrics() {
		byPath[m.Tags()["path"]] = m
	}
	require.Contains(t, byPath, "/", "the root filesystem")
	m, ok := byPath[dst]
	require.True(t, ok, "the bind-mounted directory's filesystem: %v", byPath)
	require.Len(t, byPath, 2, "nothing else")
	require.Equal(t, "ro", m.Tags()["mode"])
	total, _ := m.GetField("total")
	require.Equal(t, st.Blocks*uint64(st.Bsize), total, "the usage of the filesystem under the directory")
}
