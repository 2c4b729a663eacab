"""`skyreel`, the command-line client of the Skyreel API (docs/cli.md). Not a Lambda function: it talks to
the API over HTTP like any other client, and is never bundled into the functions' layer."""
