package nn

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	. "github.com/gomlx/gomlx/core/graph"
)

// FLOPs counts the floating-point operations of a graph's matrix products and convolutions,
// a multiply-add counted as two — the convention of roofline plots and of the GFLOP figures
// quoted for networks (elementwise ops, normalisations and softmax are memory-bound and
// not counted):
//
//	DotGeneral   2 · |out| · Π(lhs contracting dims)
//	ConvGeneral  2 · |out| · |kernel| / out_channels     (= 2·|out|·C_in/groups·kh·kw)
//
// The count is of the graph as built: a convolution built as patches + a matmul (the
// pure-Go backend's form, ConvIm2col) counts as that matmul, which for the shifted-rows form
// includes the padded border (up to ~35 % more); build with ConvDirect for the model's own
// count. Convolutions must have channels-first outputs (every one this package builds).
func FLOPs(g *Graph) (int64, error) {
	var total int64
	for _, n := range g.Nodes() {
		switch n.Type() {
		case NodeTypeDotGeneral:
			k, err := contractingSize(n)
			if err != nil {
				return 0, err
			}
			total += 2 * int64(n.Shape().Size()) * k
		case NodeTypeConvGeneral:
			in := n.Inputs()
			kernel := in[1].Shape()
			out := n.Shape()
			if out.Rank() < 2 || kernel.Size()%out.Dimensions[1] != 0 {
				return 0, fmt.Errorf("nn.FLOPs: convolution %s with kernel %s: output channels not on axis 1", out, kernel)
			}
			total += 2 * int64(out.Size()) * int64(kernel.Size()/out.Dimensions[1])
		}
	}
	return total, nil
}

var lhsContracting = regexp.MustCompile(`lhsContractingAxes=\[([0-9 ]*)\]`)

// contractingSize is the product of a DotGeneral's contracted dimensions. GoMLX exposes a
// node's axes only through its description (String), which names them; the test pins it.
func contractingSize(n *Node) (int64, error) {
	m := lhsContracting.FindStringSubmatch(n.String())
	if m == nil {
		return 0, fmt.Errorf("nn.FLOPs: cannot read the contracting axes of %s", n)
	}
	lhs := n.Inputs()[0].Shape()
	k := int64(1)
	for _, f := range strings.Fields(m[1]) {
		a, err := strconv.Atoi(f)
		if err != nil || a < 0 || a >= lhs.Rank() {
			return 0, fmt.Errorf("nn.FLOPs: contracting axis %q of %s", f, n)
		}
		k *= int64(lhs.Dimensions[a])
	}
	return k, nil
}
