package belm

import (
	"fmt"
	"slices"
	"strings"
)

// SamplerInfo is a sampler's entry in the registry: everything the workbench states about a
// sampler (its names, how figures show it, what the theory expects of it) in one place, next
// to the sampler's code. ParseSampler, the CLI's --sampler_type, the figures' labels and
// colours (package viz) and the conformance tests all read it; nothing else lists samplers.
//
// Adding a sampler is one file — its type, its maths in the doc comment, its entry — plus
// one line in samplerRegistry.
type SamplerInfo struct {
	// Name is the sampler's name as --sampler_type spells it (lower case).
	Name string
	// Aliases are other accepted spellings (lower case), e.g. the reference's "lag" for belm.
	Aliases []string
	// Label is the display name in figures and tables ("O-BELM", "BELM k=3"); LookupSampler
	// accepts it too.
	Label string
	// Color is the figures' colour as "#RRGGBB" (Okabe–Ito where possible); "" lets a figure
	// pick one from its palette.
	Color string
	// NFEPerStep is the number of network evaluations per step (Sampler.NFEPerStep).
	NFEPerStep int
	// Exact says whether the sampler inverts exactly: sampling from its inverted state gives
	// back x₀ up to roundoff (paper Prop. 2), whatever the number of steps.
	Exact bool
	// LTESlope is the expected slope of log LTE against log h on the analytic Gaussian
	// (Runner.LTEStudy, one step from exact latents): p+1 for a method of order p.
	LTESlope float64
	// GlobalOrder is the expected asymptotic slope of −log(global error) against log N on
	// power grids (Runner.GlobalStudy, N in the hundreds to thousands); 0 when the sampler has
	// none to claim (not zero-stable).
	GlobalOrder float64
	// New builds the sampler from the hyperparameters.
	New func(SamplerOptions) (Sampler, error)

	// Family, if set, is the name of the parametrised family the entry belongs to ("belmK"):
	// one entry stands for the family, and members recognises the names of the others.
	Family  string
	members func(name string) (SamplerInfo, bool)
}

// samplerRegistry lists every sampler, in the order help texts and tables list them. Each
// entry lives in its sampler's file.
var samplerRegistry = []*SamplerInfo{&ddimEntry, &ddimInverseDiffusersEntry, &edictEntry, &bdiaEntry, &obelmEntry, &belm3Entry}

// Samplers returns the registered samplers' entries (one per family: belm3 stands for k-step
// BELM), in the registry's order.
func Samplers() []SamplerInfo {
	out := make([]SamplerInfo, len(samplerRegistry))
	for i, e := range samplerRegistry {
		out[i] = e.copy()
	}
	return out
}

// copy returns the entry with its own Aliases, so callers cannot change the registry.
func (e *SamplerInfo) copy() SamplerInfo {
	c := *e
	c.Aliases = slices.Clone(e.Aliases)
	return c
}

// LookupSampler returns the entry of a sampler name, alias or label, ignoring case and
// surrounding space; members of a family (belm4, belm-k4, "BELM k=4") get their own entry.
func LookupSampler(name string) (SamplerInfo, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, e := range samplerRegistry {
		if e.Name == n || strings.ToLower(e.Label) == n || slices.Contains(e.Aliases, n) {
			return e.copy(), true
		}
	}
	for _, e := range samplerRegistry {
		if e.members == nil {
			continue
		}
		if m, ok := e.members(n); ok {
			return m, true
		}
	}
	return SamplerInfo{}, false
}

// samplerNames lists the registered names for error messages, with the label where it is
// another accepted spelling: "ddim, …, belm (O-BELM) or belmK (e.g. belm3)".
func samplerNames() string {
	var names []string
	for _, e := range samplerRegistry {
		switch {
		case e.Family != "":
			names = append(names, fmt.Sprintf("%s (e.g. %s)", e.Family, e.Name))
		case slices.Contains(e.Aliases, strings.ToLower(e.Label)):
			names = append(names, fmt.Sprintf("%s (%s)", e.Name, e.Label))
		default:
			names = append(names, e.Name)
		}
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
