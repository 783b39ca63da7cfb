// Command compat is the compatibility suite's Go client: it talks to a CLOVA Speech-compatible
// server the way a Go user writes a client with net/http and mime/multipart, standard library
// only. Run by test/compat/go-client.int.test.ts on the stage of test/compat/harness.ts, which
// gives it SORI_URL, SORI_KEY, MEDIA_PATH, MEDIA_URL, OBJECT_KEY and CALLBACK_URL.
//
// It prints one JSON line per answer, {"client","shape","schema","status","body"[,"callbackFor"]},
// where schema names the CLOVA body it expects (test/compat/clova-schemas.ts); the harness checks
// each body against it and each promised callback. This program checks what a schema cannot:
// that the params it sent were honoured (language en-US -> params.lang "en", userdata echoed,
// fullText false -> no top-level text) and that the text is the clip's ("ask not"). It exits 1
// with a message on the first expectation that fails.
//
// Shapes Go users write that the other clients do not: `params` after `media`; `params` by
// WriteField, by CreatePart typed application/json without a filename, and by CreateFormFile
// (a file part typed application/octet-stream); a multipart body streamed through io.Pipe and an
// *os.File as the short API's body (both sent chunked, with no Content-Length); the key header
// by Header.Set (sent as X-Clovaspeech-Api-Key) or written in lower case.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"
)

const clientName = "go"

var (
	soriURL     string
	soriKey     string
	mediaPath   string
	mediaURL    string
	objectKey   string
	callbackURL string

	httpClient = &http.Client{Timeout: 5 * time.Minute}
	tokenRE    = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

func main() {
	soriURL = strings.TrimRight(mustEnv("SORI_URL"), "/")
	soriKey = mustEnv("SORI_KEY")
	mediaPath = mustEnv("MEDIA_PATH")
	mediaURL = mustEnv("MEDIA_URL")
	objectKey = mustEnv("OBJECT_KEY")
	callbackURL = mustEnv("CALLBACK_URL")

	uploadSync("upload sync: params by WriteField, after media", false, false, writeFieldParams)
	uploadSync("upload sync: params by CreatePart typed application/json, no filename, after media, lower-case key header", true, false, jsonPartParams)
	uploadSync("upload sync: params by CreateFormFile params.json, after media, streamed through io.Pipe", false, true, formFileParams)
	uploadAsyncWithCallback("upload async + callback, then GET polling")
	urlSync("url sync: Content-Type application/json;UTF-8")
	objectStorageSync("object-storage sync: dataKey, lower-case key header")
	short("short: *os.File body, lang=Eng", "lang=Eng", false)
	short("short: graph=true", "lang=Eng&graph=true", true)
	badSecret("upload: wrong secret")
}

// ---- long-form upload ----

type paramsWriter func(w *multipart.Writer, params []byte) error

// The simplest way: a text field.
func writeFieldParams(w *multipart.Writer, params []byte) error {
	return w.WriteField("params", string(params))
}

// A field with its own Content-Type, as a Go user copying the curl `;type=application/json` does.
func jsonPartParams(w *multipart.Writer, params []byte) error {
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="params"`)
	h.Set("Content-Type", "application/json")
	part, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = part.Write(params)
	return err
}

// A file part: CreateFormFile types it application/octet-stream.
func formFileParams(w *multipart.Writer, params []byte) error {
	part, err := w.CreateFormFile("params", "params.json")
	if err != nil {
		return err
	}
	_, err = part.Write(params)
	return err
}

// writeForm writes media first, then params (the samples put params first), and closes w.
func writeForm(w *multipart.Writer, params []byte, addParams paramsWriter) error {
	f, err := os.Open(mediaPath)
	if err != nil {
		return err
	}
	defer f.Close()
	media, err := w.CreateFormFile("media", filepath.Base(mediaPath))
	if err != nil {
		return err
	}
	if _, err := io.Copy(media, f); err != nil {
		return err
	}
	if err := addParams(w, params); err != nil {
		return err
	}
	return w.Close()
}

// uploadRequest builds POST /recognizer/upload, buffered or streamed through an io.Pipe.
func uploadRequest(shape, key string, lowerCaseHeader, stream bool, params []byte, addParams paramsWriter) *http.Request {
	var body io.Reader
	var contentType string
	if stream {
		pr, pw := io.Pipe()
		w := multipart.NewWriter(pw)
		contentType = w.FormDataContentType()
		go func() { pw.CloseWithError(writeForm(w, params, addParams)) }()
		body = pr
	} else {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		if err := writeForm(w, params, addParams); err != nil {
			fail(shape, "building the form: %v", err)
		}
		contentType = w.FormDataContentType()
		body = &buf
	}
	req, err := http.NewRequest("POST", soriURL+"/recognizer/upload", body)
	if err != nil {
		fail(shape, "%v", err)
	}
	req.Header.Set("Content-Type", contentType)
	setKey(req, key, lowerCaseHeader)
	return req
}

func uploadSync(shape string, lowerCaseHeader, stream bool, addParams paramsWriter) {
	userdata := map[string]any{"client": clientName, "shape": shape, "n": 1}
	params := mustJSON(map[string]any{"language": "en-US", "completion": "sync", "fullText": false, "userdata": userdata})
	status, body := do(shape, uploadRequest(shape, soriKey, lowerCaseHeader, stream, params, addParams))
	emit(shape, "longformCompleted", status, body, "")
	checkCompleted(shape, status, body, userdata)
}

func uploadAsyncWithCallback(shape string) {
	userdata := map[string]any{"client": clientName, "shape": shape}
	params := mustJSON(map[string]any{
		"language": "en-US", "completion": "async", "callback": callbackURL, "fullText": false, "userdata": userdata,
	})
	status, body := do(shape, uploadRequest(shape, soriKey, true, false, params, writeFieldParams))
	obj := decodeObject(shape, status, body)
	token, _ := obj["token"].(string)
	emit(shape, "longformAccepted", status, body, token)
	if status != http.StatusOK || obj["result"] != "SUCCEEDED" || !tokenRE.MatchString(token) {
		fail(shape, "expected 200 {result: SUCCEEDED, token: <32 hex>}, got %d %s", status, body)
	}

	poll := shape + ": GET /recognizer/{token}"
	deadline := time.Now().Add(5 * time.Minute)
	for {
		req, err := http.NewRequest("GET", soriURL+"/recognizer/"+token, nil)
		if err != nil {
			fail(poll, "%v", err)
		}
		setKey(req, soriKey, false)
		status, body := do(poll, req)
		obj := decodeObject(poll, status, body)
		switch obj["result"] {
		case "WAITING", "PROCESSING":
			emit(poll+" (in progress)", "longformPending", status, body, "")
			if status != http.StatusOK || obj["token"] != token {
				fail(poll, "expected 200 with the token while in progress, got %d %s", status, body)
			}
			if time.Now().After(deadline) {
				fail(poll, "still %v after 5 minutes", obj["result"])
			}
			time.Sleep(500 * time.Millisecond)
		case "COMPLETED", "SUCCEEDED":
			emit(poll+" (completed)", "longformCompleted", status, body, "")
			checkCompleted(poll, status, body, userdata)
			if obj["token"] != token {
				fail(poll, "the result names token %v, not %s", obj["token"], token)
			}
			return
		default:
			emit(poll+" (unexpected)", "", status, body, "")
			fail(poll, "expected WAITING, PROCESSING or COMPLETED, got %d %s", status, body)
		}
	}
}

func badSecret(shape string) {
	params := mustJSON(map[string]any{"language": "en-US", "completion": "sync"})
	status, body := do(shape, uploadRequest(shape, "not-the-secret", false, false, params, writeFieldParams))
	emit(shape, "longformError", status, body, "")
	obj := decodeObject(shape, status, body)
	if status != http.StatusUnauthorized || obj["result"] != "ERROR_INVALID_SECRET" {
		fail(shape, "expected 401 ERROR_INVALID_SECRET, got %d %s", status, body)
	}
}

// ---- long-form JSON bodies ----

func jsonRequest(shape, path string, lowerCaseHeader bool, payload map[string]any) *http.Request {
	req, err := http.NewRequest("POST", soriURL+path, bytes.NewReader(mustJSON(payload)))
	if err != nil {
		fail(shape, "%v", err)
	}
	req.Header.Set("Content-Type", "application/json;UTF-8")
	req.Header.Set("Accept", "application/json;UTF-8")
	setKey(req, soriKey, lowerCaseHeader)
	return req
}

func urlSync(shape string) {
	userdata := map[string]any{"client": clientName, "shape": shape}
	payload := map[string]any{"url": mediaURL, "language": "en-US", "completion": "sync", "fullText": false, "userdata": userdata}
	status, body := do(shape, jsonRequest(shape, "/recognizer/url", false, payload))
	emit(shape, "longformCompleted", status, body, "")
	checkCompleted(shape, status, body, userdata)
}

func objectStorageSync(shape string) {
	userdata := map[string]any{"client": clientName, "shape": shape}
	payload := map[string]any{"dataKey": objectKey, "language": "en-US", "completion": "sync", "fullText": false, "userdata": userdata}
	status, body := do(shape, jsonRequest(shape, "/recognizer/object-storage", true, payload))
	emit(shape, "longformCompleted", status, body, "")
	checkCompleted(shape, status, body, userdata)
}

// checkCompleted: a finished result that honoured language, userdata and fullText.
func checkCompleted(shape string, status int, body []byte, userdata map[string]any) {
	obj := decodeObject(shape, status, body)
	if status != http.StatusOK {
		fail(shape, "expected 200, got %d %s", status, body)
	}
	if r := obj["result"]; r != "COMPLETED" && r != "SUCCEEDED" {
		fail(shape, "expected result COMPLETED, got %v", r)
	}
	params, ok := obj["params"].(map[string]any)
	if !ok {
		fail(shape, "no params object in %s", body)
	}
	if params["lang"] != "en" {
		fail(shape, `language en-US was not honoured: params.lang = %v, want "en"`, params["lang"])
	}
	if want := roundTrip(userdata); !reflect.DeepEqual(params["userdata"], want) {
		fail(shape, "userdata not echoed: got %s, want %s", mustJSON(params["userdata"]), mustJSON(want))
	}
	if params["fullText"] != false {
		fail(shape, "fullText false was not honoured: params.fullText = %v", params["fullText"])
	}
	if _, has := obj["text"]; has {
		fail(shape, "fullText false was not honoured: the result has a top-level text")
	}
	segments, _ := obj["segments"].([]any)
	var texts []string
	for _, s := range segments {
		if seg, ok := s.(map[string]any); ok {
			if t, ok := seg["text"].(string); ok {
				texts = append(texts, t)
			}
		}
	}
	if text := strings.Join(texts, " "); !strings.Contains(strings.ToLower(text), "ask not") {
		fail(shape, "the segments do not say \"ask not\": %q", text)
	}
}

// ---- short API ----

func short(shape, query string, graph bool) {
	f, err := os.Open(mediaPath)
	if err != nil {
		fail(shape, "%v", err)
	}
	defer f.Close()
	// An *os.File body: net/http does not know its length and sends it chunked.
	req, err := http.NewRequest("POST", soriURL+"/recog/v1/stt?"+query, f)
	if err != nil {
		fail(shape, "%v", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	setKey(req, soriKey, false)
	status, body := do(shape, req)
	emit(shape, "shortSuccess", status, body, "")
	obj := decodeObject(shape, status, body)
	if status != http.StatusOK {
		fail(shape, "expected 200, got %d %s", status, body)
	}
	if text, _ := obj["text"].(string); !strings.Contains(strings.ToLower(text), "ask not") {
		fail(shape, "the text does not say \"ask not\": %q", text)
	}
	if obj["quota"] != float64(15) {
		fail(shape, "quota for an 11 s clip: got %v, want 15", obj["quota"])
	}
	values, present := obj["usr_graph"]
	if graph {
		// 50 values a second of an 11 s clip.
		if list, ok := values.([]any); !ok || len(list) < 500 || len(list) > 600 {
			fail(shape, "graph=true: want usr_graph with about 550 values, got %.200s", mustJSON(values))
		}
	} else if present {
		fail(shape, "usr_graph without graph=true")
	}
}

// ---- plumbing ----

// setKey sets the secret the way Go code usually does (Header.Set, which sends
// X-Clovaspeech-Api-Key) or written straight into the map in lower case.
func setKey(req *http.Request, key string, lowerCase bool) {
	if lowerCase {
		req.Header["x-clovaspeech-api-key"] = []string{key}
	} else {
		req.Header.Set("X-CLOVASPEECH-API-KEY", key)
	}
}

func do(shape string, req *http.Request) (int, []byte) {
	res, err := httpClient.Do(req)
	if err != nil {
		fail(shape, "%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		fail(shape, "reading the answer: %v", err)
	}
	return res.StatusCode, body
}

type answer struct {
	Client      string          `json:"client"`
	Shape       string          `json:"shape"`
	Schema      *string         `json:"schema"`
	Status      int             `json:"status"`
	Body        json.RawMessage `json:"body"`
	CallbackFor string          `json:"callbackFor,omitempty"`
}

// emit prints one answer line; schema "" is null (not a JSON answer we can name).
func emit(shape, schema string, status int, body []byte, callbackFor string) {
	var s *string
	if schema != "" {
		s = &schema
	}
	raw := json.RawMessage(body)
	if !json.Valid(body) {
		raw = mustJSON(string(body))
	}
	// Marshal compacts the raw body: one answer, one line.
	line, err := json.Marshal(answer{Client: clientName, Shape: shape, Schema: s, Status: status, Body: raw, CallbackFor: callbackFor})
	if err != nil {
		fail(shape, "encoding the answer line: %v", err)
	}
	fmt.Println(string(line))
}

func decodeObject(shape string, status int, body []byte) map[string]any {
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		fail(shape, "HTTP %d: the answer is not a JSON object (%v): %.300s", status, err, body)
	}
	return obj
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		fail("encoding JSON", "%v", err)
	}
	return b
}

// roundTrip is v as it comes back from JSON (numbers as float64).
func roundTrip(v any) any {
	var out any
	if err := json.Unmarshal(mustJSON(v), &out); err != nil {
		fail("decoding JSON", "%v", err)
	}
	return out
}

func mustEnv(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fail("environment", "%s is not set (run me from test/compat/go-client.int.test.ts)", name)
	}
	return v
}

func fail(shape, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go compat client: FAILED: %s: %s\n", shape, fmt.Sprintf(format, args...))
	os.Exit(1)
}
