package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"hookbot/bot"
	"hookbot/commands"
	"hookbot/storage"
)

// cmdRun runs the bot until SIGINT or SIGTERM (SPEC §1).
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, rest, err := LoadConfig(args, os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "hookbot run: %v\n", err)
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "hookbot run: unexpected argument %q\nusage: hookbot run [-c FILE] [--key value]...\n", rest[0])
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := run(ctx, cfg, log); err != nil {
		log.Error("hookbot stopped", "err", err)
		return 1
	}
	log.Info("hookbot stopped")
	return 0
}

// run opens the database, builds the bot and serves until ctx ends.
func run(ctx context.Context, cfg Config, log *slog.Logger) error {
	log.Info("starting hookbot", "version", version, "config", cfg)
	db, err := storage.Open(ctx, cfg.Database)
	if err != nil {
		return fmt.Errorf("open database %s: %w", cfg.Database, err)
	}
	defer db.Close()

	access := commands.Access{Admins: cfg.Admins, Users: cfg.Users, UserTypes: cfg.UserTypes}
	b := bot.New(bot.Config{
		JID:                cfg.JID,
		Password:           cfg.Password,
		Server:             cfg.Server,
		Resource:           cfg.Resource,
		TLS:                cfg.TLS,
		CAFile:             cfg.CAFile,
		InsecureSkipVerify: cfg.InsecureSkipVerify,
		Role:               access.Role,
		Logger:             log,
	})
	closeWire, err := wire(ctx, cfg, log, b, db, access)
	if err != nil {
		return err
	}
	defer closeWire()

	go memoryPolicy(ctx, os.Getenv("GOGC") == "")
	err = b.Run(ctx)
	if errors.Is(err, bot.ErrAuth) {
		return fmt.Errorf("%w (check jid and password; not retrying)", err)
	}
	return err
}
