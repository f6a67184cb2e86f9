/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  The session's record of the workers it launched, through either
 *	  interface: their handles (process ID and cookie), states, last errors,
 *	  the per-session limit, waiting for workers to exit, and statistics.
 *
 * IDENTIFICATION
 *	  extension/registry.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "pgstat.h"
#include "pg_background.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* How many records the session keeps at most (finished workers go first). */
#define PGBG_MAX_RECORDS		1000

/* How many characters of the SQL text a record keeps. */
#define PGBG_SQL_PREVIEW_CHARS	120

/* How long a launch may wait for our own finished workers to exit. */
#define PGBG_EXIT_WAIT_MS		1000

/* How long one wait for a worker's exit sleeps before looking again. */
#define PGBG_WAIT_STEP_MS		100

/* The records, oldest first (the list and its records: TopMemoryContext). */
static List *records = NIL;

/* Counters since the session started. */
static int64 n_launched = 0;
static int64 n_completed = 0;
static int64 n_failed = 0;
static int64 n_canceled = 0;
static double run_ms_sum = 0;
static int64 run_ms_count = 0;

static int64 new_cookie(void);
static void evict_record(void);
static void refresh_record(pg_background_record *record);
static bool settle_from_segment(pg_background_record *record,
								pg_background_fixed *fixed);
static void set_state(pg_background_record *record, pgbg_state state,
					  const char *error);

/*
 * pgbg_record_create
 *
 * Remember a worker that has just attached to its queue.
 */
pg_background_record *
pgbg_record_create(int32 pid, const char *sql, Size sql_len,
				   pg_background_fixed *fixed, BackgroundWorkerHandle *handle)
{
	pg_background_record *record;
	MemoryContext oldcontext;

	evict_record();

	oldcontext = MemoryContextSwitchTo(TopMemoryContext);
	record = palloc0(sizeof(pg_background_record));
	record->pid = pid;
	record->cookie = new_cookie();
	record->launched_at = fixed->launched_at;
	record->user_id = GetUserId();
	record->queue_size = fixed->queue_size;
	record->sql_preview = pnstrdup(sql,
								   pg_mbcharcliplen(sql, (int) Min(sql_len, INT_MAX),
													PGBG_SQL_PREVIEW_CHARS));
	record->discard = fixed->discard_results;
	record->state = PGBG_STATE_RUNNING;
	record->run_ms = -1;
	record->progress.pct = PGBG_NO_PROGRESS;
	record->handle = handle;
	records = lappend(records, record);
	MemoryContextSwitchTo(oldcontext);

	n_launched++;
	return record;
}

/*
 * pgbg_record_released
 *
 * The session lets go of the worker's segment, because of how.  Its last
 * progress report is kept; if the worker's final message has been read
 * (finished), the segment says how it ended.
 */
void
pgbg_record_released(pg_background_record *record, bool finished,
					 pgbg_consumed_by how)
{
	if (record->consumed_by == PGBG_CONSUMED_NOT)
		record->consumed_by = how;
	if (record->entry == NULL)
		return;
	pgbg_progress_refresh(record);
	if (finished)
	{
		record->finished = true;
		(void) settle_from_segment(record, record->entry->fixed);
	}
}

/*
 * pgbg_refresh_records
 *
 * Bring every record up to date: ask the postmaster about workers not
 * known to be gone, read the end of those whose segment we hold, and let
 * go of the segments of submitted and detached workers that have ended.
 */
void
pgbg_refresh_records(void)
{
	ListCell   *lc;

	foreach(lc, records)
	{
		pg_background_record *record = lfirst(lc);

		if (!record->gone || record->state == PGBG_STATE_RUNNING ||
			record->entry != NULL)
			refresh_record(record);
	}
}

/*
 * pgbg_lookup_handle
 *
 * The record of handle (pid, cookie).  A process ID the session knows
 * with another cookie is a wrong cookie, or a stale handle: a worker that
 * is gone, whose process ID a later worker of this session got.
 */
pg_background_record *
pgbg_lookup_handle(int32 pid, int64 cookie)
{
	ListCell   *lc;
	pg_background_record *latest = NULL;

	foreach(lc, records)
	{
		pg_background_record *record = lfirst(lc);

		if (record->pid != pid)
			continue;
		if (record->cookie == cookie)
			return record;
		latest = record;
	}

	if (latest == NULL)
		pgbg_error_not_attached(pid);

	/* Only the latest worker with that process ID can still be running */
	refresh_record(latest);
	if (latest->gone || latest->state != PGBG_STATE_RUNNING)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cookie " INT64_FORMAT " does not match the background worker with PID %d",
						cookie, pid),
				 errhint("The worker of this session with that process ID has ended, and its cookie is another: use the handle that pg_background_launch_v2 or pg_background_submit_v2 returned.")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cookie " INT64_FORMAT " does not match the background worker with PID %d",
					cookie, pid),
			 errhint("The worker with that process ID is running, and its cookie is another: use the handle that pg_background_launch_v2 or pg_background_submit_v2 returned.")));
	pg_unreachable();
}

/*
 * pgbg_check_session_limit
 *
 * pg_background.max_workers bounds the workers of this session that are
 * still running; a launch of the second interface beyond it fails.
 */
void
pgbg_check_session_limit(void)
{
	ListCell   *lc;
	int			running = 0;

	pgbg_refresh_records();
	foreach(lc, records)
	{
		if (((pg_background_record *) lfirst(lc))->state == PGBG_STATE_RUNNING)
			running++;
	}

	if (running >= pgbg_max_workers)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many background workers in this session"),
				 errdetail("This session runs %d background workers, and pg_background.max_workers is %d.",
						   running, pgbg_max_workers),
				 errhint("Wait for a worker to finish or cancel one, or raise pg_background.max_workers.")));
}

/*
 * pgbg_cancel_record
 *
 * Stop a running worker at once: pgbg_cancel_record_grace without grace.
 */
void
pgbg_cancel_record(pg_background_record *record)
{
	pgbg_cancel_record_grace(record, 0);
}

/*
 * pgbg_cancel_record_grace
 *
 * Cancel a running worker's statement the way pg_cancel_backend does
 * (SIGINT: its transaction rolls back at its next interrupt check) and let
 * go of its results; if its process has not exited after grace_ms, end it
 * the way pg_terminate_backend does (SIGTERM, through the postmaster's
 * TerminateBackgroundWorker).  Never SIGKILL: a killed backend makes the
 * postmaster restart every backend.  A worker that already ended keeps its
 * state.
 *
 * The queue is detached right after the cancel is sent, before the worker
 * can see it: a worker blocked on a full queue is woken with the cancel
 * already pending, and no worker waits for room to send the error it ends
 * with.  The segment stays until the worker has ended, so its state says
 * what became of it: canceled, or stopped if it caught the cancel and
 * committed within the grace period.
 */
void
pgbg_cancel_record_grace(pg_background_record *record, int grace_ms)
{
	pid_t		pid;

	refresh_record(record);
	if (record->state != PGBG_STATE_RUNNING)
		return;
	if (record->entry != NULL && record->entry->reading)
		pgbg_detach_worker(record->entry, PGBG_CONSUMED_CANCELED);	/* fails */

	/* The handle's process ID is checked first: it may not be reused yet */
	if (GetBackgroundWorkerPid(record->handle, &pid) == BGWH_STARTED &&
		pid == record->pid)
		(void) kill(pid, SIGINT);
	record->cancel_requested = true;
	if (record->entry != NULL)
		pgbg_detach_worker(record->entry, PGBG_CONSUMED_CANCELED);
	else if (record->consumed_by == PGBG_CONSUMED_NOT)
		record->consumed_by = PGBG_CONSUMED_CANCELED;

	PG_TRY();
	{
		if (!pgbg_wait_record(record, Min(grace_ms, PG_BACKGROUND_MAX_GRACE_MS)))
			TerminateBackgroundWorker(record->handle);
	}
	PG_CATCH();
	{
		/* Our own wait was interrupted: the worker gets no more grace */
		TerminateBackgroundWorker(record->handle);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/* Ended by us, or still ending: canceled (a later look changes nothing) */
	set_state(record, PGBG_STATE_CANCELED, NULL);
}

/*
 * pgbg_wait_record
 *
 * Wait until the worker's process has exited, at most timeout_ms
 * milliseconds (-1: no limit).  The postmaster sets our latch when one of
 * our workers stops; we look again every PGBG_WAIT_STEP_MS anyway.
 * Returns whether the worker has exited.
 */
bool
pgbg_wait_record(pg_background_record *record, int timeout_ms)
{
	TimestampTz start = GetCurrentTimestamp();

	for (;;)
	{
		long		wait_ms = PGBG_WAIT_STEP_MS;
		int			rc;

		refresh_record(record);
		if (record->gone)
			return true;

		if (timeout_ms >= 0)
		{
			long		elapsed_ms;

			elapsed_ms = (long) ((GetCurrentTimestamp() - start) / 1000);
			if (elapsed_ms >= timeout_ms)
				return false;
			wait_ms = Min(wait_ms, timeout_ms - elapsed_ms);
		}

		rc = WaitLatch(MyLatch,
					   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   wait_ms, WAIT_EVENT_BGWORKER_SHUTDOWN);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * pgbg_wait_for_exiting
 *
 * Called when no worker slot is free.  Workers whose final message we have
 * read exit right after it, so wait (briefly, and only for them) until at
 * least one is gone.  Returns true if a slot may have been freed.
 */
bool
pgbg_wait_for_exiting(void)
{
	TimestampTz start = GetCurrentTimestamp();
	ListCell   *lc;
	bool		any = false;

	pgbg_refresh_records();
	foreach(lc, records)
	{
		pg_background_record *record = lfirst(lc);

		if (record->finished && !record->gone)
			any = true;
	}
	if (!any)
		return false;

	for (;;)
	{
		int			rc;

		/* The postmaster sets our latch when one of them stops */
		rc = WaitLatch(MyLatch,
					   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   10L, WAIT_EVENT_BGWORKER_SHUTDOWN);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		foreach(lc, records)
		{
			pg_background_record *record = lfirst(lc);
			pid_t		pid;

			if (record->finished && !record->gone &&
				GetBackgroundWorkerPid(record->handle, &pid) == BGWH_STOPPED)
			{
				record->gone = true;
				return true;
			}
		}
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(),
									   PGBG_EXIT_WAIT_MS))
			return false;
	}
}

/*
 * pgbg_records
 *
 * The records, oldest first, up to date.
 */
List *
pgbg_records(void)
{
	pgbg_refresh_records();
	return records;
}

/*
 * pgbg_stats
 *
 * The session's counters; avg_ms is negative if no worker has reported
 * its run time yet.
 */
void
pgbg_stats(int64 *launched, int64 *completed, int64 *failed,
		   int64 *canceled, int32 *active, double *avg_ms)
{
	pgbg_refresh_records();
	*launched = n_launched;
	*completed = n_completed;
	*failed = n_failed;
	*canceled = n_canceled;
	*active = (int32) (n_launched - n_completed - n_failed - n_canceled);
	*avg_ms = run_ms_count > 0 ? run_ms_sum / run_ms_count : -1;
}

/*
 * pgbg_state_name
 *
 * The name pg_background_list_v2 shows.
 */
const char *
pgbg_state_name(pgbg_state state)
{
	switch (state)
	{
		case PGBG_STATE_RUNNING:
			return "running";
		case PGBG_STATE_STOPPED:
			return "stopped";
		case PGBG_STATE_CANCELED:
			return "canceled";
		case PGBG_STATE_ERROR:
			return "error";
	}
	return "unknown";
}

/*
 * new_cookie
 *
 * A random positive number that tells a worker from any later one that
 * gets the same process ID.
 */
static int64
new_cookie(void)
{
	uint64		cookie;

	if (!pg_strong_random(&cookie, sizeof(cookie)))
		cookie = ((uint64) MyProcPid << 32) ^ (uint64) GetCurrentTimestamp();
	cookie &= PG_INT64_MAX;
	return (int64) cookie;
}

/*
 * evict_record
 *
 * Make room for one more record by forgetting the oldest worker that is
 * gone and whose segment we no longer hold.
 */
static void
evict_record(void)
{
	ListCell   *lc;

	if (list_length(records) < PGBG_MAX_RECORDS)
		return;

	pgbg_refresh_records();
	foreach(lc, records)
	{
		pg_background_record *record = lfirst(lc);

		if (record->gone && record->entry == NULL)
		{
			records = foreach_delete_current(records, lc);
			pfree(record->handle);
			pfree(record->sql_preview);
			if (record->last_error != NULL)
				pfree(record->last_error);
			if (record->progress.msg != NULL)
				pfree(record->progress.msg);
			pfree(record);
			return;
		}
	}
}

/*
 * refresh_record
 *
 * Learn what can be learnt about one worker.  The postmaster is asked
 * first: a worker writes its end into the segment before it exits, so
 * once it is gone what the segment says is final.
 */
static void
refresh_record(pg_background_record *record)
{
	pid_t		pid;

	if (!record->gone &&
		GetBackgroundWorkerPid(record->handle, &pid) == BGWH_STOPPED)
		record->gone = true;

	if (record->state == PGBG_STATE_RUNNING && record->entry != NULL)
		(void) settle_from_segment(record, record->entry->fixed);

	if (record->state == PGBG_STATE_RUNNING && record->gone)
	{
		if (record->cancel_requested)
			set_state(record, PGBG_STATE_CANCELED, NULL);
		else if (record->entry != NULL)
			set_state(record, PGBG_STATE_ERROR,
					  "background worker exited without reporting its end");
		else
			set_state(record, PGBG_STATE_STOPPED, NULL);	/* end not known */
	}

	/* Nothing more will come from a submitted or detached worker that ended */
	if (record->entry != NULL && record->state != PGBG_STATE_RUNNING &&
		(record->discard || record->entry->queue_detached) &&
		!record->entry->reading)
		pgbg_forget_worker(record->entry, true, PGBG_CONSUMED_NOT);
}

/*
 * settle_from_segment
 *
 * If the worker has reported its end in the segment, take it over.
 */
static bool
settle_from_segment(pg_background_record *record, pg_background_fixed *fixed)
{
	uint32		outcome;

	if (record->state != PGBG_STATE_RUNNING)
		return true;

	outcome = pg_atomic_read_u32(&fixed->outcome);
	if (outcome == PGBG_OUTCOME_NONE)
		return false;
	pg_read_barrier();

	record->run_ms = (double) (fixed->finished_at - record->launched_at) / 1000.0;
	if (outcome == PGBG_OUTCOME_DONE)
		set_state(record, PGBG_STATE_STOPPED, NULL);
	else if (record->cancel_requested)
		set_state(record, PGBG_STATE_CANCELED, NULL);	/* our cancel's error */
	else
		set_state(record, PGBG_STATE_ERROR, fixed->last_error);
	return true;
}

/*
 * set_state
 *
 * A running worker has ended: count it.
 */
static void
set_state(pg_background_record *record, pgbg_state state, const char *error)
{
	if (record->state != PGBG_STATE_RUNNING)
		return;

	record->state = state;
	if (error != NULL)
		record->last_error = MemoryContextStrdup(TopMemoryContext, error);

	switch (state)
	{
		case PGBG_STATE_STOPPED:
			n_completed++;
			break;
		case PGBG_STATE_ERROR:
			n_failed++;
			break;
		case PGBG_STATE_CANCELED:
			n_canceled++;
			break;
		case PGBG_STATE_RUNNING:
			break;
	}

	if (record->run_ms >= 0)
	{
		run_ms_sum += record->run_ms;
		run_ms_count++;
	}
}
