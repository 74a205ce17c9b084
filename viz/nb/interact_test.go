package nb

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePage is a notebook for Interact: it records the outputs by display id (in the order
// they were created) and plays a page that answers the handshake or not.
type fakePage struct {
	mu       sync.Mutex
	notebook bool
	live     bool        // answers the handshake
	gone     bool        // no longer answers (alive)
	mountErr error       // mount fails
	changes  chan change // what the page sends once mounted
	done     chan struct{}
	order    []string
	outputs  map[string]map[string]any
	texts    map[string][]string // setText calls per element
	mounted  string
	closed   bool
	asked    int
}

func newFakePage(notebook, live bool) *fakePage {
	return &fakePage{notebook: notebook, live: live, changes: make(chan change, 16), done: make(chan struct{}),
		outputs: map[string]map[string]any{}, texts: map[string][]string{}}
}

func (p *fakePage) active() bool { return p.notebook }
func (p *fakePage) display(id string, data map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.outputs[id]; !ok {
		p.order = append(p.order, id)
	}
	p.outputs[id] = data
}
func (p *fakePage) sync() {}
func (p *fakePage) connect(time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked++
	return p.live
}
func (p *fakePage) alive(time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.gone
}
func (p *fakePage) mount(bar string, ins []*input) (*wiring, error) {
	if p.mountErr != nil {
		return nil, p.mountErr
	}
	p.mounted = bar
	return &wiring{changes: p.changes, done: p.done, close: func() { p.closed = true }}, nil
}
func (p *fakePage) setText(id, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.texts[id] = append(p.texts[id], text)
}

// shown is the page's outputs in order, each as one line: its text, "<png>" or the HTML.
func (p *fakePage) shown() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, id := range p.order {
		d := p.outputs[id]
		switch {
		case d["text/plain"] != nil:
			out = append(out, strings.TrimSuffix(d["text/plain"].(string), "\n"))
		case d["image/png"] != nil:
			out = append(out, "<png>")
		default:
			out = append(out, "html:"+d["text/html"].(string))
		}
	}
	return out
}

func usePage(t *testing.T, p *fakePage) {
	t.Helper()
	old := frontend
	frontend = p
	t.Cleanup(func() { frontend = old })
}

var tiny = image.NewRGBA(image.Rect(0, 0, 2, 2))

// Outside a notebook (go test, go run) Interact calls f once with the defaults, its text
// goes to stdout and its pictures nowhere, and it returns.
func TestInteractOutsideNotebook(t *testing.T) {
	page := newFakePage(false, true)
	usePage(t, page)
	var buf bytes.Buffer
	old := stdout
	stdout = &buf
	defer func() { stdout = old }()
	lambda := Slider("λ", 0, 1, 0.1, 0.3)
	calls := 0
	Interact(func(out *Out) {
		calls++
		out.Printf("λ = %.2f\n", lambda.Value())
		out.Image(tiny)
		out.Println("done")
	}, lambda)
	if calls != 1 || buf.String() != "λ = 0.30\ndone\n" || page.asked != 0 || len(page.order) != 0 {
		t.Errorf("calls %d, stdout %q, handshakes %d, outputs %v", calls, buf.String(), page.asked, page.order)
	}
}

// In a notebook without a live page (nbconvert), f runs once with the defaults, its text
// and pictures are the cell's outputs in order (text/plain, image/png: what nbcheck reads),
// the controls' place says which values they are, and Interact returns.
func TestInteractWithoutPage(t *testing.T) {
	page := newFakePage(true, false)
	usePage(t, page)
	n := Checks("N", []int{10, 20, 50}, 10, 50)
	calls := 0
	Interact(func(out *Out) {
		calls++
		out.Printf("N = %v\n", n.Values())
		out.Printf("second line\n")
		out.Image(tiny)
		out.Image(tiny)
		fmt.Fprintln(out, "table")
	}, n)
	want := []string{"N = [10 50]\nsecond line", "<png>", "<png>", "table"}
	got := page.shown()
	if calls != 1 || page.asked != 1 || page.mounted != "" || len(got) != 5 || !reflect.DeepEqual(got[1:], want) {
		t.Fatalf("calls %d, handshakes %d, mounted %q, outputs %q", calls, page.asked, page.mounted, got)
	}
	if !strings.Contains(got[0], "N: 10, 50 — the defaults: the controls need a live Jupyter page") || !strings.HasSuffix(page.order[0], "/controls") {
		t.Errorf("the controls' place: %s %q", page.order[0], got[0])
	}
}

// With a live page, every change calls f again with the new values, the outputs are
// replaced in place (those a shorter output no longer has are emptied), changes that came
// while f ran make one call, a failing Must shows its error and keeps the controls, and
// Done ends it leaving the last values in the controls' place.
func TestInteractLive(t *testing.T) {
	page := newFakePage(true, true)
	usePage(t, page)
	lambda := Slider("λ", 0, 1, 0.25, 0.5)
	sampler := Select("sampler", []string{"ddim", "belm"}, "belm")
	var seen []string
	page.changes <- change{0, "0"} // λ = 0 …
	page.changes <- change{0, 4}   // … then 1, before the loop reads: one call with λ = 1
	page.changes <- change{1, "0"} // and ddim
	finished := make(chan struct{})
	calls := make(chan string, 16)
	go func() {
		defer close(finished)
		Interact(func(out *Out) {
			v := fmt.Sprintf("%s %.2f", sampler.Value(), lambda.Value())
			seen = append(seen, v)
			calls <- v
			out.Println(v)
			if lambda.Value() == 0.25 {
				Check(errors.New("λ = 0.25 is not allowed"))
				out.Println("not reached")
			}
			if sampler.Value() == "belm" {
				out.Image(tiny)
				out.Println("O-BELM only")
			}
		}, lambda, sampler)
	}()
	wait := func(want string) {
		t.Helper()
		select {
		case got := <-calls:
			if got != want {
				t.Fatalf("call with %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no call with %q", want)
		}
	}
	wait("belm 0.50")
	wait("ddim 1.00")
	time.Sleep(50 * time.Millisecond) // the call's outputs are shown after f returns
	if got := page.shown(); !reflect.DeepEqual(got[1:], []string{"ddim 1.00", "html:", "html:"}) {
		t.Errorf("after the change to ddim, λ = 1: %q", got)
	}
	page.changes <- change{0, 99} // not a position: ignored, no call
	page.changes <- change{0, 1}  // λ = 0.25: Check fails inside f
	time.Sleep(100 * time.Millisecond)
	if got := page.shown(); !reflect.DeepEqual(got[1:], []string{"ddim 0.25\nerror: λ = 0.25 is not allowed", "html:", "html:"}) {
		t.Errorf("after a failing Check: %q", got)
	}
	wait("ddim 0.25")
	page.changes <- change{1, 1}
	wait("belm 0.25") // a failure again, but the controls stay live
	page.changes <- change{0, 2}
	wait("belm 0.50")
	time.Sleep(50 * time.Millisecond)
	close(page.done)
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not end the interaction")
	}
	if got := page.shown(); !reflect.DeepEqual(got[1:], []string{"belm 0.50", "<png>", "O-BELM only"}) || !page.closed {
		t.Errorf("at the end: %q, closed %v", got, page.closed)
	}
	if got := page.shown()[0]; !strings.Contains(got, "λ = 0.50 · sampler = belm — ended (Done)") {
		t.Errorf("the controls' place at the end: %s", got)
	}
	if want := []string{"belm 0.50", "ddim 1.00", "ddim 0.25", "belm 0.25", "belm 0.50"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("calls %q, want %q", seen, want)
	}
	status := page.texts[page.mounted+"-status"]
	if len(status) == 0 || status[0] != liveStatus || !strings.Contains(strings.Join(status, "|"), "computing…") {
		t.Errorf("status line: %q", status)
	}
}

// The interrupt (■), IdleTimeout and a page that no longer answers end a live interaction
// too; a page that cannot mount the widgets leaves the defaults.
func TestInteractEnds(t *testing.T) {
	sigs := make(chan chan<- os.Signal, 1)
	oldNotify := notifyInterrupt
	notifyInterrupt = func(c chan<- os.Signal) func() { sigs <- c; return func() {} }
	defer func() { notifyInterrupt = oldNotify }()
	page := newFakePage(true, true)
	usePage(t, page)
	go func() { (<-sigs) <- os.Interrupt }()
	Interact(func(out *Out) { out.Println("x") })
	if got := page.shown()[0]; !strings.Contains(got, "ended (interrupted)") {
		t.Errorf("interrupt: %s", got)
	}

	notifyInterrupt = func(c chan<- os.Signal) func() { return func() {} }
	oldIdle := IdleTimeout
	IdleTimeout = 20 * time.Millisecond
	defer func() { IdleTimeout = oldIdle }()
	page = newFakePage(true, true)
	usePage(t, page)
	Interact(func(out *Out) { out.Println("x") })
	if got := page.shown()[0]; !strings.Contains(got, "ended (no change for 20ms)") {
		t.Errorf("idle: %s", got)
	}

	IdleTimeout = oldIdle
	oldCheck := PageCheck
	PageCheck = 10 * time.Millisecond
	defer func() { PageCheck = oldCheck }()
	page = newFakePage(true, true)
	usePage(t, page)
	go func() { time.Sleep(50 * time.Millisecond); page.mu.Lock(); page.gone = true; page.mu.Unlock() }()
	Interact(func(out *Out) { out.Println("x") })
	if got := page.shown()[0]; !strings.Contains(got, "ended (the page no longer answers)") {
		t.Errorf("page gone: %s", got)
	}

	page = newFakePage(true, true)
	page.mountErr = errors.New("the page did not create the widgets in time")
	usePage(t, page)
	calls := 0
	Interact(func(out *Out) { calls++; out.Println("x") })
	if got := page.shown(); calls != 1 || !strings.Contains(got[0], "no live controls: the page did not create the widgets in time") || got[1] != "x" {
		t.Errorf("mount failure: %d calls, %q", calls, got)
	}
}

// BELM_NB_LIVE=off skips the handshake: no page is asked, no kernel wait.
func TestLiveOff(t *testing.T) {
	for v, want := range map[string]bool{"off": true, "0": true, "FALSE": true, "": false, "1": false, "on": false} {
		t.Setenv("BELM_NB_LIVE", v)
		if liveOff() != want {
			t.Errorf("BELM_NB_LIVE=%q: off %v", v, !want)
		}
	}
	t.Setenv("BELM_NB_LIVE", "off")
	if (gonbFrontEnd{}).connect(time.Millisecond) {
		t.Error("connect with BELM_NB_LIVE=off")
	}
}

// Out.Images checks the shape as ShowImages does.
func TestOutImages(t *testing.T) {
	page := newFakePage(true, false)
	usePage(t, page)
	Interact(func(out *Out) {
		Check(out.Images(make([]float64, 2*16), []int{1, 4, 4}, 2, "row"))
		if err := out.Images(make([]float64, 10), []int{1, 4, 4}, 2); err == nil || !strings.Contains(err.Error(), "Out.Grid: 10 values") {
			t.Errorf("bad images: %v", err)
		}
	})
	if got := page.shown(); len(got) != 2 || got[1] != "<png>" {
		t.Errorf("outputs %q", got)
	}
}
