package stdsyms

import (
	"bufio"
	"encoding"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"reflect"
)

// MapTypes returns, as yaegi's stdlib.MapTypes does, the interfaces that
// the interpreter must let its values keep when they are passed to native
// code:
//
//   - functions that take interface{} arguments and treat them specially
//     when they implement some interface (fmt.Stringer for fmt.Sprint…),
//     mapped to those interfaces;
//   - interface wrappers (io.Reader…) mapped to wrappers of the composed
//     interfaces that native code looks for (io.WriterTo, used by
//     io.Copy…), the most complex first.
//
// The map is new at each call: the caller may change it. It is meant for
// the "MapTypes" symbol of package "." given to interp.Use.
func MapTypes() map[reflect.Value][]reflect.Type {
	printing := []reflect.Type{typeOf[fmt.Formatter](), typeOf[fmt.Stringer]()}
	scanning := []reflect.Type{typeOf[fmt.Scanner]()}
	m := map[reflect.Value][]reflect.Type{
		reflect.ValueOf(json.Marshal):   {typeOf[json.Marshaler](), typeOf[encoding.TextMarshaler]()},
		reflect.ValueOf(json.Unmarshal): {typeOf[json.Unmarshaler](), typeOf[encoding.TextUnmarshaler]()},
		reflect.ValueOf(xml.Marshal):    {typeOf[xml.Marshaler](), typeOf[encoding.TextMarshaler]()},
		reflect.ValueOf(xml.Unmarshal):  {typeOf[xml.Unmarshaler](), typeOf[encoding.TextUnmarshaler]()},

		reflect.ValueOf((*_net_http_ResponseWriter)(nil)): {typeOf[responseWriterHijacker]()},
		reflect.ValueOf((*_io_Reader)(nil)):               {typeOf[readerWriterTo]()},
		reflect.ValueOf((*_io_Writer)(nil)):               {typeOf[writerReaderFrom]()},
	}
	for _, f := range []interface{}{
		fmt.Errorf, fmt.Fprint, fmt.Fprintf, fmt.Fprintln, fmt.Print, fmt.Printf, fmt.Println,
		fmt.Sprint, fmt.Sprintf, fmt.Sprintln,
		log.Fatal, log.Fatalf, log.Fatalln, log.Panic, log.Panicf, log.Panicln,
	} {
		m[reflect.ValueOf(f)] = printing
	}
	for _, f := range []interface{}{fmt.Scan, fmt.Scanf, fmt.Scanln} {
		m[reflect.ValueOf(f)] = scanning
	}
	return m
}

// typeOf returns the type T (for an interface: the interface itself).
func typeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }

// Wrappers of composed interfaces. As in the wrappers the extractor
// writes, field 0 holds the value and each other field, the method named
// after it without its first letter.

// responseWriterHijacker is an http.ResponseWriter that is also an
// http.Hijacker.
type responseWriterHijacker struct {
	IValue       interface{}
	WHeader      func() http.Header
	WWrite       func(b []byte) (int, error)
	WWriteHeader func(statusCode int)
	WHijack      func() (net.Conn, *bufio.ReadWriter, error)
}

func (w responseWriterHijacker) Header() http.Header         { return w.WHeader() }
func (w responseWriterHijacker) Write(b []byte) (int, error) { return w.WWrite(b) }
func (w responseWriterHijacker) WriteHeader(statusCode int)  { w.WWriteHeader(statusCode) }
func (w responseWriterHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.WHijack()
}

// readerWriterTo is an io.Reader that is also an io.WriterTo.
type readerWriterTo struct {
	IValue   interface{}
	WRead    func(p []byte) (int, error)
	WWriteTo func(w io.Writer) (int64, error)
}

func (r readerWriterTo) Read(p []byte) (int, error)         { return r.WRead(p) }
func (r readerWriterTo) WriteTo(w io.Writer) (int64, error) { return r.WWriteTo(w) }

// writerReaderFrom is an io.Writer that is also an io.ReaderFrom.
type writerReaderFrom struct {
	IValue    interface{}
	WWrite    func(p []byte) (int, error)
	WReadFrom func(r io.Reader) (int64, error)
}

func (w writerReaderFrom) Write(p []byte) (int, error)         { return w.WWrite(p) }
func (w writerReaderFrom) ReadFrom(r io.Reader) (int64, error) { return w.WReadFrom(r) }
