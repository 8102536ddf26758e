// Package settings reads, checks and writes Ringside's settings file, keeps
// credentials in the OS keyring, and turns start-at-login on and off.
//
// The settings file is TOML (see Example for every key, commented). It holds
// no secret by design: Config has no field for one, and Validate refuses any
// connector key that looks like a credential, pointing the user to
// "ringside secret set <instance>.<name>". Secrets live in a SecretStore:
// the OS keyring (NewKeyring), RINGSIDE_SECRET_* environment variables
// (NewEnvStore) or both (NewChain).
//
// Each [connectors.<name>] section is kept raw: settings knows no vendor.
// A ConnectorConfig hands its section to the vendor's constructor, which
// decodes it strictly with Decode.
package settings
