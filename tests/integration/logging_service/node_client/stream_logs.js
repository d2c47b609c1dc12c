// Streams COUNT log lines to logging-service and prints the summary as JSON.
// Usage: node stream_logs.js PROTO_FILE TARGET COUNT
"use strict";

const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const [protoFile, target, count] = process.argv.slice(2);
const definition = protoLoader.loadSync(protoFile, { keepCase: true, enums: String, longs: Number });
const { LogCollector } = grpc.loadPackageDefinition(definition).merchstore.logging.v1;
const client = new LogCollector(target, grpc.credentials.createInsecure());

const call = client.StreamLogs((error, summary) => {
  if (error) {
    console.error(error.message);
    process.exit(1);
  }
  console.log(JSON.stringify(summary));
  client.close();
});
for (let index = 0; index < Number(count); index += 1) {
  call.write({ level: "INFO", service_name: "node-client", message: `node line ${index}` });
}
call.end();
