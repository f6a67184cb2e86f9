/*-------------------------------------------------------------------------
 *
 * control.c
 *	  Acting on running workers: cancel one the way pg_cancel_backend does,
 *	  and end it the way pg_terminate_backend does if it has not exited
 *	  after a grace period; wait until one has exited, or, when no worker
 *	  slot is free, until one of ours that delivered its results has.
 *
 * IDENTIFICATION
 *	  extension/control.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "control.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"

/* How long a launch may wait for our own finished workers to exit. */
#define PGBG_EXIT_WAIT_MS		1000

/* How long one wait for a worker's exit sleeps before looking again. */
#define PGBG_WAIT_STEP_MS		100

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

	pgbg_refresh_record(record);
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
	pgbg_record_ended(record, PGBG_STATE_CANCELED, NULL);
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

		pgbg_refresh_record(record);
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
	List	   *records = pgbg_records();
	ListCell   *lc;
	bool		any = false;

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
