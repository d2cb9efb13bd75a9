package nodeclient

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The node client is the only place that dials the node: no plugin or
// command imports gRPC or oasis-core's gRPC helpers itself.
func TestOnlyTheNodeClientImportsGRPC(t *testing.T) {
	forbidden := []string{"google.golang.org/grpc", "github.com/oasisprotocol/oasis-core/go/common/grpc"}
	checked := 0
	for _, dir := range []string{"../../plugins", "../../cmd"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			checked++
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range forbidden {
					require.False(t, p == bad || strings.HasPrefix(p, bad+"/"), "%s imports %s; use internal/nodeclient", path, p)
				}
			}
			return nil
		})
		require.NoError(t, err)
	}
	require.Positive(t, checked)
}
