// compose-validate: loads a Compose file with compose-go, the loader Docker Compose v2 itself uses
// (schema validation, interpolation, extends, merge of anchors, profiles), and prints the resolved
// model as JSON for policy checks. Needs no Docker engine. Built by infra/compose/check.sh.
//
//	compose-validate [-profile NAME]... docker-compose.yml > resolved.json
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type profiles []string

func (p *profiles) String() string     { return strings.Join(*p, ",") }
func (p *profiles) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	var active profiles
	flag.Var(&active, "profile", "compose profile to enable (repeatable); \"*\" enables every profile")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: compose-validate [-profile NAME]... <compose file>")
		os.Exit(2)
	}
	opts, err := cli.NewProjectOptions(
		[]string{flag.Arg(0)},
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithProfiles(active),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose-validate:", err)
		os.Exit(1)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose-validate:", err)
		os.Exit(1)
	}
	out, err := p.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose-validate:", err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
	os.Stdout.WriteString("\n")
}
