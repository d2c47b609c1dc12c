// Command merchstore-go-client is merchstore's gRPC client in Go: it calls db-service (the
// StoreData service) and streams log lines to logging-service (the LogCollector service), from
// code generated out of the same protos/ as the Python services.
//
// It prints one JSON document on stdout saying what each call answered, so that a test, or a
// reader, can check it against what the system stored.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	loggingv1 "merchstore/clients/go/internal/gen/loggingv1"
	storev1 "merchstore/clients/go/internal/gen/storev1"
)

// serviceName is how the client's own log lines name their sender on log-channel.
const serviceName = "go-client"

// traceparentKey carries the run's W3C trace context to merchstore's gRPC services: their
// spans continue it, and they log every RPC under its trace id (as store-api's calls do).
const traceparentKey = "traceparent"

// requestIDKey carries the run's request id, kept beside the trace id in their log lines.
const requestIDKey = "x-request-id"

// options are the command line's settings.
type options struct {
	storeAddress   string
	loggingAddress string
	username       string
	traceID        string
	lines          int
	batchSize      int
	timeout        time.Duration
	// Mutual TLS: the deployment's CA, and this client's certificate and key (PEM files).
	caFile   string
	certFile string
	keyFile  string
}

// refusal is a gRPC error as the client saw it: the status code and its detail.
type refusal struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// report is what the client prints: one field per call it made.
type report struct {
	TraceID     string       `json:"trace_id"`
	Products    []string     `json:"products"`
	UserID      int64        `json:"user_id"`
	Order       orderReport  `json:"order"`
	BadQuantity refusal      `json:"bad_quantity"`
	Stream      streamReport `json:"stream"`
}

// orderReport is the order that db-service placed.
type orderReport struct {
	ID         int64  `json:"id"`
	UserID     int64  `json:"user_id"`
	ProductID  int64  `json:"product_id"`
	Quantity   int32  `json:"quantity"`
	TotalPrice string `json:"total_price"`
	Status     string `json:"status"`
}

// streamReport is logging-service's summary of the client's stream of log lines.
type streamReport struct {
	Sent      int    `json:"sent"`
	Received  uint64 `json:"received"`
	Accepted  uint64 `json:"accepted"`
	Published uint64 `json:"published"`
	Spilled   uint64 `json:"spilled"`
	Rejected  uint64 `json:"rejected"`
	Dropped   uint64 `json:"dropped"`
}

func parseOptions() options {
	var o options
	flag.StringVar(&o.storeAddress, "store", "127.0.0.1:50051", "db-service's gRPC address")
	flag.StringVar(&o.loggingAddress, "logging", "127.0.0.1:50052", "logging-service's gRPC address")
	flag.StringVar(&o.username, "username", "", "the user to register (default: go_<unix nanoseconds>)")
	flag.StringVar(&o.traceID, "trace-id", "", "the W3C trace id (32 lowercase hex digits) of every call (default: a random one)")
	flag.IntVar(&o.lines, "lines", 100, "how many log lines to stream to logging-service")
	flag.IntVar(&o.batchSize, "batch", 50, "log lines per stream message")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "deadline of the whole run")
	flag.StringVar(&o.caFile, "ca", "", "mutual TLS: the CA certificate the servers' certificates are signed by (PEM)")
	flag.StringVar(&o.certFile, "cert", "", "mutual TLS: this client's certificate (PEM), signed by the same CA")
	flag.StringVar(&o.keyFile, "key", "", "mutual TLS: this client's private key (PEM)")
	flag.Parse()
	now := time.Now()
	if o.username == "" {
		o.username = fmt.Sprintf("go_%d", now.UnixNano())
	}
	if o.traceID == "" {
		o.traceID = randomHex(16)
	}
	return o
}

// randomHex is n random bytes as 2n lowercase hex digits (a W3C trace or span id).
func randomHex(n int) string {
	id := make([]byte, n)
	if _, err := rand.Read(id); err != nil {
		panic(err)
	}
	return hex.EncodeToString(id)
}

func main() {
	o := parseOptions()
	if o.lines < 0 || o.batchSize < 1 {
		fmt.Fprintln(os.Stderr, "merchstore-go-client: -lines must be 0 or more and -batch 1 or more")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if len(o.traceID) != 32 {
		fmt.Fprintln(os.Stderr, "merchstore-go-client: -trace-id must be 32 lowercase hex digits")
		os.Exit(2)
	}
	// Every call continues the run's trace (sampled), so db-service's spans and its lines
	// about this run carry its trace id; the request id goes beside it.
	traceparent := fmt.Sprintf("00-%s-%s-01", o.traceID, randomHex(8))
	ctx = metadata.AppendToOutgoingContext(
		ctx, traceparentKey, traceparent, requestIDKey, "go-"+o.traceID[:8],
	)
	result, err := run(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "merchstore-go-client: %v\n", err)
		os.Exit(1)
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(result); err != nil {
		fmt.Fprintf(os.Stderr, "merchstore-go-client: %v\n", err)
		os.Exit(1)
	}
}

// transportCredentials is plain gRPC without -ca, else TLS that trusts only servers of that CA
// and shows the client's own certificate (the services require one).
func transportCredentials(o options) (credentials.TransportCredentials, error) {
	if o.caFile == "" && o.certFile == "" && o.keyFile == "" {
		return insecure.NewCredentials(), nil
	}
	if o.caFile == "" || o.certFile == "" || o.keyFile == "" {
		return nil, errors.New("mutual TLS needs all of -ca, -cert and -key")
	}
	authority, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, fmt.Errorf("-ca: %w", err)
	}
	trusted := x509.NewCertPool()
	if !trusted.AppendCertsFromPEM(authority) {
		return nil, fmt.Errorf("-ca: %s holds no PEM certificate", o.caFile)
	}
	own, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return nil, fmt.Errorf("-cert, -key: %w", err)
	}
	return credentials.NewTLS(&tls.Config{
		RootCAs:      trusted,
		Certificates: []tls.Certificate{own},
		MinVersion:   tls.VersionTLS12,
	}), nil
}

func dial(address string, transport credentials.TransportCredentials) (*grpc.ClientConn, error) {
	connection, err := grpc.NewClient(address, grpc.WithTransportCredentials(transport))
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", address, err)
	}
	return connection, nil
}

func run(ctx context.Context, o options) (*report, error) {
	transport, err := transportCredentials(o)
	if err != nil {
		return nil, err
	}
	storeConnection, err := dial(o.storeAddress, transport)
	if err != nil {
		return nil, err
	}
	defer storeConnection.Close()
	loggingConnection, err := dial(o.loggingAddress, transport)
	if err != nil {
		return nil, err
	}
	defer loggingConnection.Close()

	result := &report{TraceID: o.traceID}
	if err := shop(ctx, storev1.NewStoreDataClient(storeConnection), o, result); err != nil {
		return nil, err
	}
	stream, err := streamLines(ctx, loggingv1.NewLogCollectorClient(loggingConnection), o)
	if err != nil {
		return nil, err
	}
	result.Stream = *stream
	return result, nil
}

// shop lists the products, registers a user, places one order and tries one with a quantity
// the store refuses.
func shop(ctx context.Context, store storev1.StoreDataClient, o options, result *report) error {
	products, err := store.ListProducts(ctx, &storev1.ListProductsRequest{})
	if err != nil {
		return fmt.Errorf("ListProducts: %w", err)
	}
	if len(products.GetProducts()) == 0 {
		return errors.New("ListProducts answered no product")
	}
	for _, product := range products.GetProducts() {
		result.Products = append(result.Products, product.GetName())
	}
	user, err := store.CreateUser(ctx, &storev1.CreateUserRequest{
		Sid:      fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000_000_000),
		Username: o.username,
		Email:    o.username + "@example.com",
		Password: "go-client-password",
	})
	if err != nil {
		return fmt.Errorf("CreateUser: %w", err)
	}
	result.UserID = user.GetId()
	first := products.GetProducts()[0]
	order, err := store.PlaceOrder(ctx, &storev1.PlaceOrderRequest{
		UserId: user.GetId(), ProductId: first.GetId(), Quantity: 1,
	})
	if err != nil {
		return fmt.Errorf("PlaceOrder: %w", err)
	}
	result.Order = orderReport{
		ID: order.GetId(), UserID: order.GetUserId(), ProductID: order.GetProductId(), Quantity: order.GetQuantity(),
		TotalPrice: order.GetTotalPrice(), Status: order.GetStatus(),
	}
	_, err = store.PlaceOrder(ctx, &storev1.PlaceOrderRequest{
		UserId: user.GetId(), ProductId: first.GetId(), Quantity: 4,
	})
	if err == nil {
		return errors.New("PlaceOrder with quantity 4 was accepted; the store allows 1 to 3")
	}
	refused, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("PlaceOrder with quantity 4 failed without a gRPC status: %w", err)
	}
	result.BadQuantity = refusal{Code: refused.Code().String(), Detail: refused.Message()}
	return nil
}

// streamLines sends o.lines log lines in batches over one client-streaming call and returns
// logging-service's summary, sent once every accepted line is safe.
func streamLines(ctx context.Context, collector loggingv1.LogCollectorClient, o options) (*streamReport, error) {
	stream, err := collector.StreamLogBatches(ctx)
	if err != nil {
		return nil, fmt.Errorf("StreamLogBatches: %w", err)
	}
	for start := 0; start < o.lines; start += o.batchSize {
		batch := &loggingv1.LogBatch{}
		for i := start; i < min(start+o.batchSize, o.lines); i++ {
			batch.Messages = append(batch.Messages, &loggingv1.LogMessage{
				Level:       loggingv1.Level_INFO,
				ServiceName: serviceName,
				Message:     fmt.Sprintf("go line %d", i),
				Timestamp:   time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
				TraceId:     o.traceID,
				Logger:      "merchstore-go-client",
				RequestId:   "go-" + o.traceID[:8],
			})
		}
		if err := stream.Send(batch); err != nil {
			return nil, fmt.Errorf("StreamLogBatches send: %w", err)
		}
	}
	summary, err := stream.CloseAndRecv()
	if err != nil {
		return nil, fmt.Errorf("StreamLogBatches summary: %w", err)
	}
	return &streamReport{
		Sent: o.lines, Received: summary.GetReceived(), Accepted: summary.GetAccepted(),
		Published: summary.GetPublished(), Spilled: summary.GetSpilled(),
		Rejected: summary.GetRejected(), Dropped: summary.GetDropped(),
	}, nil
}
