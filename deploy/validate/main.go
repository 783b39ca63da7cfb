// compose-config loads a Compose file with compose-go, the library `docker compose` itself is
// built on: the Compose specification's JSON schema, interpolation of ${VARS} from the
// environment, and the model's own checks (depends_on targets, volumes, networks). It prints
// the normalised project as YAML, as `docker compose config` would, or the error and exit 1.
//
//	go run ./deploy/validate deploy/compose.yaml
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-config <compose.yaml>")
		os.Exit(2)
	}
	file, err := filepath.Abs(os.Args[1])
	if err != nil {
		fail(err)
	}
	options, err := cli.NewProjectOptions(
		[]string{file},
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithName("sori"),
		cli.WithWorkingDirectory(filepath.Dir(file)),
	)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalYAML()
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
