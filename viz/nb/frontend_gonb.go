package nb

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/comms"
	"github.com/janpfeifer/gonb/gonbui/dom"
	"github.com/janpfeifer/gonb/gonbui/protocol"
	"github.com/janpfeifer/gonb/gonbui/widgets"
)

// gonbFrontEnd is the notebook of a GoNB kernel: outputs through gonbui, controls through
// gonbui/widgets (Slider, Select, Button) and gonbui/comms (the checkboxes, the handshake).
//
// How a value gets from the page to the program (GoNB v0.11.5): the cell's program talks to
// the kernel through two named pipes; the kernel talks to the page through Jupyter's
// custom messages (comm_open/comm_msg) over the page's websocket, which the gonb_comm
// object opens once the kernel has installed its JavaScript in the page. A widget is HTML
// plus JavaScript that binds the element to a "synced variable" at an address; each change
// is sent to that address, and the program, subscribed to it, reads it from a channel. A
// widget's Done() waits for the page to send the first value, so it would wait for ever
// without a page: hence the handshake first, and mount's timeout.
type gonbFrontEnd struct{}

func (gonbFrontEnd) active() bool { return gonbui.IsNotebook }

func (gonbFrontEnd) display(id string, data map[string]any) {
	d := make(map[protocol.MIMEType]any, len(data))
	for k, v := range data {
		d[protocol.MIMEType(k)] = v
	}
	gonbui.SendData(&protocol.DisplayData{Data: d, DisplayID: id})
}

func (gonbFrontEnd) sync() { gonbui.Sync() }

func (gonbFrontEnd) setText(htmlID, text string) { dom.SetInnerText(htmlID, text) }

// answered is the handshake's answer, asked once per program.
var answered struct {
	once sync.Once
	live bool
}

// connect asks the page to send a value to a fresh address and waits for it: the kernel
// forwards a program's messages to the page only through the comms, so an answer means
// that the widgets will work. Without a page (nbconvert) GoNB's kernel waits ~3 s for the
// page to open its websocket, then drops the question; the wait for the answer starts
// once the question is out (TransientJavascript returns when the kernel has sent it).
func (g gonbFrontEnd) connect(timeout time.Duration) bool {
	answered.once.Do(func() {
		answered.live = !liveOff() && g.alive(timeout)
	})
	return answered.live
}

// alive asks the page for an answer, as connect does, every time.
func (gonbFrontEnd) alive(timeout time.Duration) bool {
	if !gonbui.IsNotebook || gonbui.Open() != nil {
		return false
	}
	address := "/belm/nb/hello/" + gonbui.UniqueId()
	hello := comms.Listen[int](address)
	defer hello.Close()
	dom.TransientJavascript(fmt.Sprintf(helloJS, jsString(address)))
	select {
	case <-hello.C:
		return gonbui.Error() == nil
	case <-time.After(timeout):
		return false
	}
}

// helloJS sends 1 to the address (%s, a JS string) as soon as gonb_comm exists (the
// kernel installs it while the question is on its way), for at most 10 s.
const helloJS = `(() => {
	const t0 = Date.now();
	const hello = () => {
		const c = globalThis.gonb_comm;
		if (c) { c.send(%s, 1); return; }
		if (Date.now() - t0 < 10000) { setTimeout(hello, 50); }
	};
	hello();
})();`

// mountTimeout is how long mount waits for the page to create the widgets.
var mountTimeout = 15 * time.Second

// mount creates every control's widget in its place in the control bar and the Done
// button, and relays the changes; it gives up when the page does not create them in time.
func (gonbFrontEnd) mount(bar string, ins []*input) (*wiring, error) {
	changes := make(chan change, 64)
	done := make(chan struct{})
	var doneOnce sync.Once
	var mu sync.Mutex
	var listening []func()
	relay := func(i int, c <-chan any) {
		for v := range c {
			changes <- change{i, v}
		}
	}
	ready := make(chan struct{})
	go func() {
		defer close(ready)
		for i, in := range ins {
			id := fmt.Sprintf("%s-%d", bar, i)
			c, stop := mountOne(id, in)
			mu.Lock()
			listening = append(listening, stop)
			mu.Unlock()
			go relay(i, c)
		}
		b := widgets.Button("Done").AppendTo(bar + "-done").Done()
		clicks := b.Listen()
		mu.Lock()
		listening = append(listening, clicks.Close)
		mu.Unlock()
		go func() {
			for range clicks.C {
				doneOnce.Do(func() { close(done) })
			}
		}()
	}()
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, stop := range listening {
			stop()
		}
		listening = nil
	}
	select {
	case <-ready:
	case <-time.After(mountTimeout):
		closeAll()
		return nil, errors.New("the page did not create the widgets in time")
	}
	return &wiring{changes: changes, done: done, close: closeAll}, nil
}

// mountOne creates the widget of one control in the element id and returns its values.
func mountOne(id string, in *input) (<-chan any, func()) {
	out := make(chan any)
	forward := func(c <-chan int) {
		for v := range c {
			out <- v
		}
		close(out)
	}
	switch in.kind {
	case sliderKind:
		w := widgets.Slider(0, len(in.choices)-1, in.pos).AppendTo(id).Done()
		values := w.Listen()
		readout, _ := json.Marshal(in.choices)
		dom.TransientJavascript(fmt.Sprintf(readoutJS, jsString(w.HtmlId()), jsString(id+"-v"), readout))
		go forward(values.C)
		return out, values.Close
	case selectKind:
		w := widgets.Select(in.choices).SetDefault(in.pos).AppendTo(id).Done()
		values := w.Listen()
		go forward(values.C)
		return out, values.Close
	default: // checks: the boxes are in the bar's HTML already
		address := "/belm/nb/checks/" + gonbui.UniqueId()
		values := comms.Listen[string](address)
		dom.TransientJavascript(fmt.Sprintf(checksJS, jsString(id), jsString(address)))
		go func() {
			for v := range values.C {
				out <- v
			}
			close(out)
		}()
		return out, values.Close
	}
}

// readoutJS shows a slider's value (its position's entry of a list) next to it as it
// moves, without a round trip to the program: slider id, readout id, the values (JSON).
const readoutJS = `(() => {
	const s = document.getElementById(%s), r = document.getElementById(%s), v = %s;
	if (!s || !r) { return; }
	s.style.display = "inline-block"; s.style.verticalAlign = "middle"; s.style.width = "180px";
	s.addEventListener("input", () => { r.textContent = v[s.value] ?? s.value; });
})();`

// checksJS binds a row of checkboxes (in the element %s, data-i their index) to a synced
// variable at the address %s: the indices of the ticked ones, comma-separated.
const checksJS = `(() => {
	const c = globalThis.gonb_comm, el = document.getElementById(%s);
	if (!c || !el) { return; }
	const boxes = Array.from(el.querySelectorAll("input[type=checkbox]"));
	const ticked = () => boxes.filter(b => b.checked).map(b => b.dataset.i).join(",");
	const v = c.newSyncedVariable(%s, ticked());
	boxes.forEach(b => b.addEventListener("change", () => v.set(ticked())));
})();`

// jsString quotes s as a JavaScript string literal, safe inside a <script> element.
func jsString(s string) string {
	b, _ := json.Marshal(s) // escapes <, > and & too
	return string(b)
}
