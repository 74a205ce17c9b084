// Command belm is the workbench's command line: every notebook result can be produced
// headless. Flags are named as in the BELM reference scripts (--num_inference_steps,
// --sampler_type, --bdia_gamma, --edict_p, …).
//
//	belm coeffs    --beta_schedule scaled_linear --timestep_spacing linspace --num_inference_steps 10 --sampler_type belm
//	belm roundtrip --model gaussian --sampler_type ddim,edict,bdia,belm --num_inference_steps 10,20,50,100 --dtype float64
//	belm order     --model gaussian --sampler_type ddim,bdia,belm
//	belm figures   --out out/figures
//
// Every command takes --format json for machine-readable output.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
)

type command struct {
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func([]string) error) {
	commands[name] = command{summary, run}
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: belm <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\n`belm <command> -h` lists a command's flags.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "belm: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "belm %s: %v\n", os.Args[1], err)
		os.Exit(exitCode(err))
	}
}

// exitCode is 2 for a mistake in the command line, 128+signal for work stopped by a signal
// (130 for SIGINT, 143 for SIGTERM, as a shell reports it), 1 for any other failure.
func exitCode(err error) int {
	var ue usageError
	var ie interruptedError
	switch {
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &ie):
		return 128 + ie.signal
	}
	return 1
}
