package nb

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"time"

	"gonum.org/v1/plot"

	"github.com/belmlab/workbench/viz"
	"github.com/belmlab/workbench/viz/figures"
)

// IdleTimeout ends a live interaction that has had no change for this long, so that a
// forgotten cell does not hold the cells queued below it (Run All) for ever.
var IdleTimeout = 10 * time.Minute

// Interact calls f once with the controls at their values, showing what f writes to its
// *Out (text, plots, images) as the cell's output; that is all it does outside a live
// Jupyter page — headless nbconvert, go test, a page whose widgets cannot connect — and
// then it returns.
//
// With a live page it then shows the controls above that output (GoNB's widgets) and keeps
// the cell running: each change of a control calls f again, and f's new output replaces
// the old one in place (changes that come while f runs are merged into one call). Inside
// these calls a failing Must or Check (or a panic) shows "error: …" as the output and keeps
// the controls live, instead of stopping the cell. The Done button, the notebook's
// interrupt (■), IdleTimeout without a change, or a page that no longer answers (closed,
// reloaded: checked every PageCheck) end the interaction: the controls give way to a line
// with their last values and the output stays. While it is live, the cells queued below it
// wait (GoNB runs one cell program at a time).
//
//	lambda := Slider("λ", 0, 1, 0.05, 0.5)
//	Interact(func(out *Out) {
//		x := Must(pair.At(lambda.Value()))
//		Check(out.Images(x, shape, 3))
//	}, lambda)
//
// Show pictures through out (Out.Show, Plot, Image, Images), not with viz.Show or
// Figure.Show, which would add a new output at every change instead of replacing one.
//
// Whether a page is live is asked once per cell program: the page must answer a message
// through GoNB's comms within HandshakeTimeout of the kernel having sent it (without a page
// the kernel itself first waits ~3 s for one, GoNB's websocket timeout, and leaves the
// <script> it sent in the cell's output; this overlaps with the first call of f).
// BELM_NB_LIVE=off in the kernel's environment skips the question: every Interact then
// shows its defaults and returns at once, as for a headless run (nbconvert passes its
// environment to the kernel).
func Interact(f func(out *Out), controls ...Control) {
	ins := make([]*input, len(controls))
	for i, c := range controls {
		ins[i] = c.input()
	}
	s := &session{fe: frontend, f: f, ins: ins, id: "belm_nb_" + newID()}
	s.run()
}

// HandshakeTimeout is how long Interact waits for the page's answer once the kernel has
// sent it the question (see Interact).
var HandshakeTimeout = 2 * time.Second

// PageCheck is how often a live interaction without changes asks the page whether it is
// still there: a closed or reloaded page ends it then (within PageCheck + ~5 s), rather
// than after IdleTimeout, so the kernel is free again.
var PageCheck = 30 * time.Second

// pageCheckTimeout is how long that check waits for the answer.
const pageCheckTimeout = 5 * time.Second

// frontend is the notebook; the tests put a fake in its place.
var frontend frontEnd = gonbFrontEnd{}

// stdout receives Out's text outside a notebook; the tests replace it.
var stdout io.Writer = os.Stdout

// notifyInterrupt relays the interrupt signal (the notebook's ■) to c; the tests replace it.
var notifyInterrupt = func(c chan<- os.Signal) (stop func()) {
	signal.Notify(c, os.Interrupt)
	return func() { signal.Stop(c) }
}

// frontEnd is what Interact needs from the notebook.
type frontEnd interface {
	active() bool                           // running inside a GoNB notebook
	display(id string, data map[string]any) // show data as the output id, or replace it
	sync()                                  // wait until the kernel has sent out every output
	// connect reports whether a live page answers (the handshake, at most once per program).
	connect(timeout time.Duration) bool
	// alive asks the page again: whether it still answers (it may have been closed).
	alive(timeout time.Duration) bool
	// mount puts the widgets into the control bar (barHTML, shown already) and relays their
	// changes; it fails when the page stops answering.
	mount(bar string, ins []*input) (*wiring, error)
	setText(htmlID, text string) // replace the text of a page element
}

// wiring is the live controls: their changes, the Done button, and how to let go of them.
type wiring struct {
	changes <-chan change
	done    <-chan struct{}
	close   func()
}

// change is a value from the page for control i.
type change struct {
	control int
	raw     any
}

// session is one Interact.
type session struct {
	fe      frontEnd
	f       func(*Out)
	ins     []*input
	id      string // prefix of the display ids: id/controls, id/0, id/1, …
	created int    // outputs created so far (id/0 … id/created−1)
}

// liveCall is set while Interact calls f again on a change: a failing Must then comes back
// to Interact instead of ending the program.
var liveCall atomic.Bool

// failure is how a failing Must inside a live call reaches Interact.
type failure struct{ err error }

func (s *session) run() {
	if !s.fe.active() {
		out := &Out{plain: stdout}
		s.f(out)
		return
	}
	bar := strings.ReplaceAll(s.id, "_", "-")
	slot := s.id + "/controls"
	s.fe.display(slot, map[string]any{"text/html": fmt.Sprintf(`<div id="%s"></div>`, bar)})
	answer := make(chan bool, 1)
	go func() { answer <- s.fe.connect(HandshakeTimeout) }()
	s.call(false)
	if !<-answer {
		s.fe.display(slot, map[string]any{"text/html": summaryHTML(s.ins, "the defaults: the controls need a live Jupyter page")})
		s.fe.sync()
		return
	}
	s.fe.display(slot, map[string]any{"text/html": barHTML(bar, s.ins, "connecting…")})
	w, err := s.fe.mount(bar, s.ins)
	if err != nil {
		s.fe.display(slot, map[string]any{"text/html": summaryHTML(s.ins, "no live controls: "+err.Error())})
		s.fe.sync()
		return
	}
	why := s.loop(w, bar+"-status")
	w.close()
	s.fe.display(slot, map[string]any{"text/html": summaryHTML(s.ins, why)})
	s.fe.sync()
}

const liveStatus = "live: Done (or ■) ends it; the cells below wait until then"

// loop calls f on every change until Done, an interrupt or IdleTimeout, and says which.
func (s *session) loop(w *wiring, status string) string {
	sig := make(chan os.Signal, 1)
	stop := notifyInterrupt(sig)
	defer stop()
	idle := time.NewTimer(IdleTimeout)
	defer idle.Stop()
	check := time.NewTicker(PageCheck)
	defer check.Stop()
	s.fe.setText(status, liveStatus)
	for {
		select {
		case c := <-w.changes:
			changed := s.apply(c)
			for more := true; more; { // merge what came meanwhile into one call
				select {
				case c := <-w.changes:
					changed = s.apply(c) || changed
				default:
					more = false
				}
			}
			if !changed {
				continue
			}
			if !idle.Stop() {
				select {
				case <-idle.C:
				default:
				}
			}
			s.fe.setText(status, "computing…")
			s.call(true)
			s.fe.setText(status, liveStatus)
			idle.Reset(IdleTimeout)
		case <-w.done:
			return "ended (Done)"
		case <-sig:
			return "ended (interrupted)"
		case <-idle.C:
			return fmt.Sprintf("ended (no change for %v)", IdleTimeout)
		case <-check.C:
			if !s.fe.alive(pageCheckTimeout) {
				return "ended (the page no longer answers)"
			}
		}
	}
}

// apply gives control c its new value; a value that is no position of it is ignored.
func (s *session) apply(c change) bool {
	if c.control < 0 || c.control >= len(s.ins) {
		return false
	}
	changed, err := s.ins[c.control].set(c.raw)
	return err == nil && changed
}

// call runs f and shows its output in place of the last call's. A live call catches a
// failing Must or a panic and shows it as the output.
func (s *session) call(live bool) {
	out := &Out{s: s}
	if live {
		liveCall.Store(true)
		defer func() {
			liveCall.Store(false)
			if r := recover(); r != nil {
				if f, ok := r.(failure); ok {
					fmt.Fprintf(&out.text, "error: %v\n", f.err)
				} else {
					fmt.Fprintf(&out.text, "panic: %v\n", r)
				}
				out.end()
			}
		}()
	}
	s.f(out)
	out.end()
}

// Out is where Interact's function writes: text (Printf, or as an io.Writer for the table
// writers), plots, figures and images, in order. In a notebook each piece is one output of
// the cell, text as text/plain and pictures as image/png, that the next call replaces in
// place; outside a notebook the text goes to stdout and pictures nowhere (as viz.Show).
type Out struct {
	s     *session  // nil outside a notebook
	plain io.Writer // outside a notebook: where the text goes
	text  bytes.Buffer
	n     int // outputs shown by this call
}

// Write appends text to the output.
func (o *Out) Write(p []byte) (int, error) {
	if o.s == nil {
		return o.plain.Write(p)
	}
	return o.text.Write(p)
}

// Printf appends formatted text to the output.
func (o *Out) Printf(format string, a ...any) { fmt.Fprintf(o, format, a...) }

// Println appends a line of text to the output.
func (o *Out) Println(a ...any) { fmt.Fprintln(o, a...) }

// Show shows a drawn figure: its plot or its image.
func (o *Out) Show(f figures.Figure) {
	switch {
	case f.Plot != nil:
		o.Plot(f.Plot)
	case f.Image != nil:
		o.Image(f.Image)
	}
}

// Plot shows a plot as a PNG of the default size (as viz.Show).
func (o *Out) Plot(p *plot.Plot) {
	if o.s == nil {
		return
	}
	b, err := viz.PNG(p, 0, 0)
	o.png(b, err)
}

// Image shows an image (an image grid, say).
func (o *Out) Image(img image.Image) {
	if o.s == nil {
		return
	}
	b, err := viz.ImagePNG(img)
	o.png(b, err)
}

// Images tiles images — flat NCHW values in [−1, 1], each of shape [C, H, W] — cols to a
// row, with optional row labels, as ShowImages does.
func (o *Out) Images(x []float64, shape []int, cols int, rowLabels ...string) error {
	return o.Grid(x, shape, viz.GridOptions{Cols: cols, RowLabels: rowLabels})
}

// Grid tiles images — flat NCHW values in [−1, 1], each of shape [C, H, W] — as the grid
// options say (columns, row and column labels, scale).
func (o *Out) Grid(x []float64, shape []int, g viz.GridOptions) error {
	img, err := imageGrid("Out.Grid", x, shape, g)
	if err != nil {
		return err
	}
	o.Image(img)
	return nil
}

func (o *Out) png(b []byte, err error) {
	if err != nil {
		fmt.Fprintf(&o.text, "viz: %v\n", err)
		return
	}
	o.flush()
	o.emit(map[string]any{"image/png": b})
}

// flush shows the text written since the last picture as one output.
func (o *Out) flush() {
	if o.text.Len() > 0 {
		o.emit(map[string]any{"text/plain": o.text.String()})
		o.text.Reset()
	}
}

// emit shows data as this call's next output: the output of the same place in the last
// call is replaced, a new one is added below the others.
func (o *Out) emit(data map[string]any) {
	o.s.fe.display(fmt.Sprintf("%s/%d", o.s.id, o.n), data)
	o.n++
	o.s.created = max(o.s.created, o.n)
}

// end shows the last text and empties the outputs the last call had beyond this one's.
func (o *Out) end() {
	if o.s == nil {
		return
	}
	o.flush()
	for k := o.n; k < o.s.created; k++ {
		o.s.fe.display(fmt.Sprintf("%s/%d", o.s.id, k), map[string]any{"text/html": ""})
	}
	o.s.fe.sync()
}

// imageGrid lays out images — flat NCHW values, each of shape [C, H, W] — as a grid.
func imageGrid(what string, x []float64, shape []int, g viz.GridOptions) (image.Image, error) {
	if len(shape) != 3 || shape[0]*shape[1]*shape[2] == 0 || len(x)%(shape[0]*shape[1]*shape[2]) != 0 {
		return nil, fmt.Errorf("%s: %d values are not images of shape %v [C, H, W]", what, len(x), shape)
	}
	n := len(x) / (shape[0] * shape[1] * shape[2])
	return viz.ImageGrid(viz.Images{Data: x, Shape: [4]int{n, shape[0], shape[1], shape[2]}, Layout: viz.NCHW, Range: viz.MinusOneOne}, g)
}

var idCount atomic.Int64

// newID is a page-wide unique id: the process and a counter.
func newID() string {
	return fmt.Sprintf("%x_%d_%d", time.Now().UnixNano(), os.Getpid(), idCount.Add(1))
}

// liveOff reports whether BELM_NB_LIVE turns live controls off.
func liveOff() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("BELM_NB_LIVE"))) {
	case "0", "off", "false", "no":
		return true
	}
	return false
}
