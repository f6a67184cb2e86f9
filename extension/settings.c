/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  The extension's own settings: pg_background.text_transfer,
 *	  max_workers, default_queue_size and worker_timeout.  A leaf: every
 *	  other file may read them, this one reads nothing of theirs.
 *
 * IDENTIFICATION
 *	  extension/settings.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "settings.h"
#include "utils/builtins.h"
#include "utils/guc.h"

/* pg_background.text_transfer: send every column as text */
bool		pgbg_text_transfer = false;

/* pg_background.max_workers: running workers per session (second interface) */
int			pgbg_max_workers = PG_BACKGROUND_DEFAULT_MAX_WORKERS;

/* pg_background.default_queue_size: the queue of a launch given queue_size 0 */
int			pgbg_default_queue_size = PG_BACKGROUND_DEFAULT_QUEUE_SIZE;

/* pg_background.worker_timeout: longest run of a worker, 0 = no limit */
int			pgbg_worker_timeout = 0;

/* Have the settings above been defined in this process? */
static bool settings_defined = false;

/*
 * pgbg_define_settings
 *
 * Define the settings once per process: in _PG_init, or in a worker when
 * its SQL first needs them.
 */
void
pgbg_define_settings(void)
{
	if (settings_defined)
		return;
	settings_defined = true;

	DefineCustomBoolVariable("pg_background.text_transfer",
							 "Sends result rows as text rather than as datum images.",
							 "Slower, but exactly what a client would receive.",
							 &pgbg_text_transfer,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("pg_background.max_workers",
							"Most background workers a session may run at once through pg_background_launch_v2 and pg_background_submit_v2.",
							NULL,
							&pgbg_max_workers,
							PG_BACKGROUND_DEFAULT_MAX_WORKERS,
							1, PG_BACKGROUND_MAX_MAX_WORKERS,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_background.default_queue_size",
							"Size of the result queue of a launch that is given queue_size 0.",
							NULL,
							&pgbg_default_queue_size,
							PG_BACKGROUND_DEFAULT_QUEUE_SIZE,
							PG_BACKGROUND_MIN_QUEUE_SIZE,
							PG_BACKGROUND_MAX_QUEUE_SIZE,
							PGC_USERSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_background.worker_timeout",
							"Cancels a background worker that runs longer than this.",
							"Counted from the launch; 0 turns the limit off.",
							&pgbg_worker_timeout,
							0,
							0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("pg_background");
#else
	EmitWarningsOnPlaceholders("pg_background");
#endif
}

/*
 * pgbg_text_transfer_wanted
 *
 * Whether rows must travel as text: pg_background.text_transfer, also in
 * a worker that has not defined the settings (see _PG_init in
 * pg_background.c), where it is a placeholder holding the caller's value,
 * or the worker's own SET.
 */
bool
pgbg_text_transfer_wanted(void)
{
	const char *value;
	bool		result;

	if (settings_defined)
		return pgbg_text_transfer;

	value = GetConfigOption("pg_background.text_transfer", true, false);
	return value != NULL && parse_bool(value, &result) && result;
}
