package main

import (
	"context"
	"log/slog"

	"tinyipsec/conf"
)

// startComponents starts the daemon's parts in dependency order: the data
// plane first (IKE installs its SAs there), then IKE.
func startComponents(ctx context.Context, cfg *conf.Config, log *slog.Logger) ([]component, error) {
	return nil, nil
}
