// Command nbbrowser runs one notebook in a real Jupyter Notebook page, in headless Chromium driven over
// the DevTools protocol (chromedp), and checks what the page shows. kernels/browser-test.sh starts the
// Jupyter server and calls it; see kernels/README.md ("browser-test.sh").
//
//	nbbrowser -url http://127.0.0.1:PORT -token TOKEN -ipynb NOTEBOOK_DIR/NAME.ipynb [-out DIR]
//
// It opens /notebooks/NAME.ipynb, waits for the kernel, clears the outputs, clicks Cell → Run All in the
// menu bar, waits until no cell runs and the kernel is idle, then fails (exit 1) when
//
//   - a cell shows an error output (.output_error), or stderr text (.output_stderr) with "error" or "panic";
//   - a non-blank code cell has no execution count (it did not run);
//   - the page has fewer output <img> elements than the notebook's metadata belm.expect min_images
//     (or -min-images), or an output <img> did not decode (naturalWidth 0).
//
// It names each failing cell as nbcheck does (1-based index, id, first source line) and quotes what the
// cell shows. In -out it writes NAME.png (a full-page screenshot) and NAME.ipynb (the notebook as the
// page holds it, outputs included), on success and on failure. Exit 2: the page or the kernel never
// became ready, or the browser failed; 130: interrupted.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"
)

func main() {
	os.Exit(run())
}

var (
	baseURL    = flag.String("url", "", "Jupyter server base URL, e.g. http://127.0.0.1:8888")
	token      = flag.String("token", "", "the server's token")
	ipynb      = flag.String("ipynb", "", "the notebook file, at the top of the server's notebook dir (it is opened as /notebooks/<base name>)")
	outDir     = flag.String("out", "", "write <name>.png (screenshot) and <name>.ipynb (the page's notebook) here")
	minImages  = flag.Int("min-images", -1, "at least this many output <img> elements (-1: the notebook's metadata belm.expect min_images, else 0)")
	timeout    = flag.Duration("timeout", 10*time.Minute, "time allowed for all cells to run")
	readyWait  = flag.Duration("ready-timeout", 2*time.Minute, "time allowed for the page to load and the kernel to start")
	chromium   = flag.String("chromium", "/usr/bin/chromium", "the browser executable")
	profileDir = flag.String("user-data-dir", "", "the browser profile dir (default: a temporary dir, removed at exit)")
	quiet      = flag.Bool("q", false, "print only the result, not each finished cell")
)

// page state, as returned by stateJS.
type cellState struct {
	Type    string   `json:"type"`
	Blank   bool     `json:"blank"`
	Running bool     `json:"running"`
	Count   any      `json:"count"` // a number once run; null, "*" or absent otherwise
	Errors  []string `json:"errors"`
	Stderr  []string `json:"stderr"`
	Images  []image  `json:"images"`
}

type image struct {
	Width    int  `json:"w"`
	Height   int  `json:"h"`
	Complete bool `json:"complete"`
}

type pageState struct {
	Cells     []cellState `json:"cells"`
	Idle      bool        `json:"idle"`
	Connected bool        `json:"connected"`
	Notice    string      `json:"notice"` // the kernel notification area ("Kernel busy", "Dead kernel", ...)
	Dialog    string      `json:"dialog"` // text of an open modal dialog (e.g. "Kernel not found")
}

// stateJS reads everything the checks need from the page, as JSON.
const stateJS = `(() => {
  const J = window.Jupyter, nb = J && J.notebook;
  const dlg = [...document.querySelectorAll('.modal.in .modal-dialog')].map(d => d.innerText.trim()).join('\n');
  const notice = (document.querySelector('#notification_kernel') || {}).innerText || '';
  if (!nb || !nb._fully_loaded) return JSON.stringify({cells: [], dialog: dlg, notice: notice});
  const k = nb.kernel;
  const cells = nb.get_cells().map(c => {
    const el = c.element[0];
    const texts = sel => [...el.querySelectorAll(sel)].map(e => e.innerText);
    return {
      type: c.cell_type,
      blank: c.get_text().trim() === '',
      running: c.element.hasClass('running'),
      count: c.cell_type === 'code' ? c.input_prompt_number : null,
      errors: texts('.output_error'),
      stderr: texts('.output_stderr'),
      images: [...el.querySelectorAll('.output_area img')].map(i => ({w: i.naturalWidth, h: i.naturalHeight, complete: i.complete})),
    };
  });
  return JSON.stringify({
    cells: cells,
    idle: !!document.querySelector('#kernel_indicator_icon.kernel_idle_icon'),
    connected: !!(k && k.is_connected()),
    notice: notice,
    dialog: dlg,
  });
})()`

// readyJS says "ready" once the notebook is loaded and its kernel answered kernel_info, else what it waits for.
const readyJS = `(() => {
  const dlg = [...document.querySelectorAll('.modal.in .modal-dialog')].map(d => d.innerText.trim()).join('\n');
  if (dlg) return 'dialog: ' + dlg;
  const J = window.Jupyter, nb = J && J.notebook;
  if (!nb) return 'page loading (' + document.title + ')';
  if (!nb._fully_loaded) return 'notebook loading';
  const k = nb.kernel;
  if (!k) return 'no kernel session';
  if (!k.is_connected()) return 'kernel connecting';
  if (!k.info_reply || !k.info_reply.language_info) return 'kernel starting';
  if (!document.querySelector('#kernel_indicator_icon.kernel_idle_icon')) return 'kernel busy';
  return 'ready';
})()`

var errorText = regexp.MustCompile(`(?i)error|panic`)

// exitCode ends a phase of the run: 1 a check failed, 2 a setup problem, 130 interrupted.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// session is one browser run of one notebook.
type session struct {
	ctx, browser context.Context // the run (Ctrl-C) and the browser tab
	name, stem   string
	nb           *notebook
	wantImages   int
	start        time.Time

	state pageState // the page as waitFinished last read it

	jsMu       sync.Mutex
	jsProblems []string // the page's console errors and uncaught exceptions: printed with a failure
}

func run() int {
	flag.Parse()
	if *baseURL == "" || *ipynb == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: nbbrowser -url URL -token TOKEN -ipynb NOTEBOOK [-out DIR] [-min-images N]")
		return 2
	}
	s := &session{name: filepath.Base(*ipynb), start: time.Now()}
	s.stem = strings.TrimSuffix(s.name, ".ipynb")
	var err error
	if s.nb, err = readNotebook(*ipynb); err != nil {
		fmt.Fprintln(os.Stderr, "nbbrowser:", err)
		return 2
	}
	s.wantImages = *minImages
	if s.wantImages < 0 {
		s.wantImages = s.nb.minImages()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s.ctx = ctx
	closeBrowser, err := s.openBrowser()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nbbrowser:", err)
		return 2
	}
	defer closeBrowser()
	for _, phase := range []func() error{s.waitReady, s.runAll, s.waitFinished, s.check} {
		if err := phase(); err != nil {
			var code exitCode
			if s.ctx.Err() != nil || !errors.As(err, &code) {
				return 130
			}
			return int(code)
		}
	}
	return 0
}

// openBrowser starts headless Chromium with a fresh profile and collects the page's console
// errors; the returned function closes it all.
func (s *session) openBrowser() (func(), error) {
	var cleanups []func()
	closeAll := func() {
		for k := len(cleanups) - 1; k >= 0; k-- {
			cleanups[k]()
		}
	}
	if *profileDir == "" {
		dir, err := os.MkdirTemp("", "nbbrowser-profile-")
		if err != nil {
			return nil, err
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		*profileDir = dir
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(*chromium),
		chromedp.UserDataDir(*profileDir),
		chromedp.WindowSize(1280, 1024),
		chromedp.DisableGPU,
		// This machine's network is closed: no background connections, no component updates.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-proxy-server", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(s.ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	consoleCtx, stopConsole := context.WithCancel(browserCtx)
	cleanups = append(cleanups, cancelAlloc, cancelBrowser, stopConsole)
	s.browser = browserCtx
	messages := chromedp.Console(consoleCtx) // starts the browser and subscribes now
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				s.jsMu.Lock()
				s.jsProblems = append(s.jsProblems, m.String())
				s.jsMu.Unlock()
			}
		}
	}()
	return closeAll, nil
}

func (s *session) logf(format string, args ...any) {
	fmt.Printf("  [%5.1fs] %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

// fail prints a failure line and returns code (130 when the run was interrupted).
func (s *session) fail(code exitCode, format string, args ...any) error {
	if s.ctx.Err() != nil {
		return exitCode(130)
	}
	fmt.Printf("FAIL %s: %s\n", s.name, fmt.Sprintf(format, args...))
	return code
}

// postMortem saves the screenshot and the page's notebook and, after a failure, prints the
// page's JS errors.
func (s *session) postMortem(failed bool) {
	if s.ctx.Err() != nil {
		return // interrupted: the browser is gone
	}
	if *outDir != "" {
		saveArtifacts(s.browser, *outDir, s.stem, s.logf)
	}
	s.jsMu.Lock()
	defer s.jsMu.Unlock()
	if failed && len(s.jsProblems) > 0 {
		fmt.Println("  the page's console errors (for context; not checked):")
		for _, p := range s.jsProblems[:min(len(s.jsProblems), 10)] {
			fmt.Println("    " + oneLine(p, 200))
		}
	}
}

// waitReady loads the notebook page and waits until its kernel is ready.
func (s *session) waitReady() error {
	page := strings.TrimRight(*baseURL, "/") + "/notebooks/" + url.PathEscape(s.name) + "?token=" + url.QueryEscape(*token)
	if err := chromedp.Do(s.browser, chromedp.Navigate(page)); err != nil {
		return s.fail(2, "browser: %v", err)
	}
	s.logf("opened %s (Chromium, headless)", strings.Replace(page, *token, "…", 1))
	last := ""
	for deadline := time.Now().Add(*readyWait); ; {
		st, err := chromedp.Run(s.browser, chromedp.Evaluate[string](readyJS))
		if err != nil {
			return s.fail(2, "browser: %v", err)
		}
		if st == "ready" {
			s.logf("kernel ready; Cell → Run All")
			return nil
		}
		if strings.HasPrefix(st, "dialog: ") || time.Now().After(deadline) {
			err := s.fail(2, "the notebook page never got a ready kernel (after %.0fs): %s", time.Since(s.start).Seconds(), oneLine(st, 300))
			s.postMortem(true)
			return err
		}
		if st != last && !*quiet {
			s.logf("%s", st)
		}
		last = st
		if !sleep(s.ctx, 200*time.Millisecond) {
			return exitCode(130)
		}
	}
}

// runAll clears what a saved notebook might show, then uses the menu as a person would.
func (s *session) runAll() error {
	err := chromedp.Do(s.browser,
		chromedp.Evaluate[chromedp.Void](`Jupyter.notebook.clear_all_output();
			Jupyter.notebook.get_cells().forEach(c => c.cell_type === 'code' && c.set_input_prompt(null))`),
		chromedp.Click(chromedp.CSS(`#celllink`)),
		chromedp.Click(chromedp.CSS(`#run_all_cells > a`)),
	)
	if err != nil {
		err = s.fail(2, "clicking Cell → Run All: %v", err)
		s.postMortem(true)
	}
	return err
}

// waitFinished waits until no cell runs and the kernel is idle (twice in a row: outputs arrive
// on iopub after the execute reply), reporting each cell as it finishes, then gives the images
// a moment to decode. It leaves the page's last state in s.state.
func (s *session) waitFinished() error {
	done := map[int]bool{}
	settled := 0
	for deadline := time.Now().Add(*timeout); settled < 2; {
		if err := evalJSON(s.browser, stateJS, &s.state); err != nil {
			return s.fail(2, "browser: %v", err)
		}
		running := 0
		for i, c := range s.state.Cells {
			if c.Running {
				running++
			} else if _, ran := c.Count.(float64); ran && !done[i] {
				done[i] = true
				if !*quiet {
					s.logf("cell %d done: In [%v]", i+1, prompt(c.Count))
				}
			}
		}
		if s.state.Dialog != "" {
			fmt.Printf("FAIL %s: a dialog opened while running: %s\n", s.name, oneLine(s.state.Dialog, 300))
			break
		}
		if running == 0 && s.state.Idle {
			settled++
		} else {
			settled = 0
		}
		if time.Now().After(deadline) {
			err := s.fail(1, "still running after %v (%d cell(s) running, kernel: %q)", *timeout, running, s.state.Notice)
			report(s.name, s.nb, s.state, s.wantImages)
			s.postMortem(true)
			return err
		}
		if !sleep(s.ctx, 250*time.Millisecond) {
			return exitCode(130)
		}
	}
	for t := time.Now(); time.Since(t) < 10*time.Second && !allComplete(s.state); { // images decode asynchronously
		if !sleep(s.ctx, 200*time.Millisecond) {
			return exitCode(130)
		}
		if err := evalJSON(s.browser, stateJS, &s.state); err != nil {
			break
		}
	}
	s.logf("all cells finished")
	return nil
}

// check reports the page's final state against the notebook.
func (s *session) check() error {
	ok := report(s.name, s.nb, s.state, s.wantImages) && s.state.Dialog == ""
	s.postMortem(!ok)
	if !ok {
		return exitCode(1)
	}
	return nil
}

// report prints the result, naming each failing cell; it returns whether the notebook passed.
func report(name string, nbFile *notebook, st pageState, wantImages int) bool {
	var problems []string
	codeCells, ran, images := 0, 0, 0
	var sizes []string
	for i, c := range st.Cells {
		cname := nbFile.cellName(i)
		// One problem per failing cell, quoting its error output(s) and its stderr.
		var shown []string
		for _, e := range c.Errors {
			shown = append(shown, "    error output:\n"+indent(e, "      | ", 40))
		}
		for _, e := range c.Stderr {
			if errorText.MatchString(e) {
				shown = append(shown, "    stderr:\n"+indent(e, "      | ", 40))
			}
		}
		if len(shown) > 0 {
			problems = append(problems, fmt.Sprintf("%s shows an error (In [%v]):\n%s", cname, prompt(c.Count), strings.Join(shown, "\n")))
		}
		for j, im := range c.Images {
			images++
			sizes = append(sizes, fmt.Sprintf("%dx%d", im.Width, im.Height))
			if im.Width <= 0 {
				problems = append(problems, fmt.Sprintf("%s: output image %d did not render (naturalWidth 0, complete=%v)", cname, j+1, im.Complete))
			}
		}
		if c.Type != "code" || c.Blank {
			continue
		}
		codeCells++
		if _, isNum := c.Count.(float64); isNum {
			ran++
		} else {
			problems = append(problems, fmt.Sprintf("%s did not run: In [%v]", cname, prompt(c.Count)))
		}
	}
	if len(st.Cells) == 0 {
		problems = append(problems, "the page shows no cells")
	}
	if images < wantImages {
		problems = append(problems, fmt.Sprintf("%d output image(s) on the page, want at least %d", images, wantImages))
	}
	if len(problems) == 0 {
		fmt.Printf("ok   %s in the browser: %d/%d code cells ran, %d image(s) rendered (%s, want >= %d), no errors\n",
			name, ran, codeCells, images, strings.Join(sizes, ", "), wantImages)
		return true
	}
	fmt.Printf("FAIL %s in the browser: %d/%d code cells ran, %d image(s) (want >= %d)\n", name, ran, codeCells, images, wantImages)
	for _, p := range problems {
		fmt.Println("  - " + p)
	}
	return false
}

func saveArtifacts(ctx context.Context, dir, stem string, logf func(string, ...any)) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		logf("cannot save artifacts: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// Notebook 6 scrolls the notebook inside div#site, so a full-page shot would hold only the window:
	// let the page grow to the notebook's height first.
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const st = document.createElement('style');
		st.textContent = 'html, body, #site { height: auto !important; overflow: visible !important; }';
		document.head.appendChild(st);
	})()`))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		logf("screenshot failed: %v", err)
	} else if err := os.WriteFile(filepath.Join(dir, stem+".png"), png, 0o644); err != nil {
		logf("screenshot: %v", err)
	} else {
		logf("screenshot: %s", filepath.Join(dir, stem+".png"))
	}
	js, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(Jupyter.notebook.toJSON(), null, 1)`))
	if err == nil {
		if err := os.WriteFile(filepath.Join(dir, stem+".ipynb"), []byte(js+"\n"), 0o644); err == nil {
			logf("the page's notebook: %s", filepath.Join(dir, stem+".ipynb"))
		}
	}
}

func evalJSON(ctx context.Context, js string, v any) error {
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), v)
}

func allComplete(st pageState) bool {
	for _, c := range st.Cells {
		for _, im := range c.Images {
			if !im.Complete {
				return false
			}
		}
	}
	return true
}

// sleep waits d; false when ctx ended (interrupted).
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func prompt(count any) string {
	switch c := count.(type) {
	case float64:
		return fmt.Sprint(int(c))
	case string:
		return c
	}
	return " "
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n-3] + "..."
	}
	return s
}

func indent(s, prefix string, maxLines int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > maxLines {
		lines = append(lines[:maxLines], fmt.Sprintf("... (%d more lines)", len(lines)-maxLines))
	}
	return prefix + strings.Join(lines, "\n"+prefix)
}

// notebook is what nbbrowser reads from the .ipynb file: the cells' ids and sources (to name cells) and
// the metadata belm.expect min_images.
type notebook struct {
	Cells []struct {
		ID     string          `json:"id"`
		Source json.RawMessage `json:"source"`
	} `json:"cells"`
	Metadata struct {
		Belm struct {
			Expect []struct {
				MinImages int `json:"min_images"`
			} `json:"expect"`
		} `json:"belm"`
	} `json:"metadata"`
}

func readNotebook(path string) (*notebook, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var nb notebook
	if err := json.Unmarshal(b, &nb); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(nb.Cells) == 0 {
		return nil, errors.New(path + ": no cells")
	}
	return &nb, nil
}

func (nb *notebook) minImages() int {
	n := 0
	for _, e := range nb.Metadata.Belm.Expect {
		n = max(n, e.MinImages)
	}
	return n
}

// cellName names cell i as kernels/nbcheck does: 1-based index, id, first source line (not GoNB's "%%").
func (nb *notebook) cellName(i int) string {
	s := fmt.Sprintf("cell %d", i+1)
	if i >= len(nb.Cells) {
		return s
	}
	c := nb.Cells[i]
	if c.ID != "" {
		s += " (id " + c.ID + ")"
	}
	var src string
	var lines []string
	if json.Unmarshal(c.Source, &src) == nil {
		lines = strings.Split(src, "\n")
	} else if json.Unmarshal(c.Source, &lines) == nil {
		lines = strings.Split(strings.Join(lines, ""), "\n")
	}
	for _, line := range lines {
		if line = strings.TrimSpace(line); line != "" && line != "%%" {
			if len(line) > 60 {
				line = line[:57] + "..."
			}
			s += fmt.Sprintf(" %q", line)
			break
		}
	}
	return s
}
