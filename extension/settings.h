/*-------------------------------------------------------------------------
 *
 * settings.h
 *	  The extension's own settings, pg_background.* (see settings.c).
 *
 * IDENTIFICATION
 *	  extension/settings.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_SETTINGS_H
#define PGBG_SETTINGS_H

/*
 * Accepted range of the queue_size argument of the launch functions, and of
 * pg_background.default_queue_size.  Below 4 kB a queue holds less than one
 * batch of rows of a few hundred bytes, and every row costs both processes
 * a wake-up: 100,000 rows of 1 kB took more than ten minutes through a
 * 64-byte queue.
 */
#define PG_BACKGROUND_MIN_QUEUE_SIZE	4096
#define PG_BACKGROUND_MAX_QUEUE_SIZE	(256 * 1024 * 1024)

/* Defaults and bounds of the settings. */
#define PG_BACKGROUND_DEFAULT_MAX_WORKERS	16
#define PG_BACKGROUND_MAX_MAX_WORKERS		1000
#define PG_BACKGROUND_DEFAULT_QUEUE_SIZE	65536

extern PGDLLIMPORT bool pgbg_text_transfer;
extern PGDLLIMPORT int pgbg_max_workers;
extern PGDLLIMPORT int pgbg_default_queue_size;
extern PGDLLIMPORT int pgbg_worker_timeout;

extern void pgbg_define_settings(void);
extern bool pgbg_text_transfer_wanted(void);

#endif							/* PGBG_SETTINGS_H */
