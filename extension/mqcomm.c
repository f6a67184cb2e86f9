/*-------------------------------------------------------------------------
 *
 * mqcomm.c
 *	  The worker's end of the result queue, as its client connection: the
 *	  PqCommMethods through which the server's own code sends what a client
 *	  would get (row descriptions, command tags, errors, notices, ready for
 *	  query), and the batch that the DestReceiver of mqdest.c writes rows
 *	  into.  Every message is framed and packed into batches sent over the
 *	  shm_mq to the session that launched us; our end, how it ended, goes
 *	  into the segment too.  The counterpart of pqmq.c, which sends each
 *	  message on its own.
 *
 *	  A little over 400 lines: PqCommMethods has six methods, and the batch
 *	  they fill is filled by mqdest.c's rows too, so its sending, the
 *	  cutting of a half-built row and the giving up of the queue are here
 *	  for both.
 *
 * IDENTIFICATION
 *	  extension/mqcomm.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "frame.h"
#include "libpq/libpq.h"
#include "libpq/pqmq.h"
#include "mqcomm.h"
#include "segment.h"
#include "utils/memutils.h"

/* Largest batch we accumulate before sending it. */
#define PGBG_MAX_BATCH_SIZE		(32 * 1024)

/* Our end of the queue; NULL once we have given up on it. */
static shm_mq_handle *out_mqh = NULL;

/* Has the receiver gone away?  Then output is silently discarded. */
static bool out_receiver_gone = false;

/* Are we inside shm_mq_send?  See pgbg_putmessage. */
static bool out_busy = false;

/* Where we report how we ended, and whether to send anything at all. */
static pg_background_fixed *out_fixed = NULL;
static bool out_discard = false;

/* Frames waiting to be sent, and the size at which we send them. */
StringInfoData pgbg_mq_batch;
static Size out_batch_limit;

/*
 * Where the DataRow being built starts in the batch, or -1.  If building it
 * fails (an output function raises an error), the half-built frame is cut
 * off before the error is queued.
 */
static int	out_row_start = -1;

static void pgbg_comm_reset(void);
static int	pgbg_flush(void);
static int	pgbg_flush_if_writable(void);
static bool pgbg_is_send_pending(void);
static int	pgbg_putmessage(char msgtype, const char *s, size_t len);
static void pgbg_putmessage_noblock(char msgtype, const char *s, size_t len);
static int	send_batch(bool force_flush);
static int	send_frame(char msgtype, const char *s, size_t len,
					   bool force_flush);
static void record_outcome(char msgtype, const char *s, size_t len);
static void abandon_queue(void);
static void pgbg_output_cleanup(dsm_segment *seg, Datum arg);

static const PQcommMethods pgbg_comm_methods = {
	.comm_reset = pgbg_comm_reset,
	.flush = pgbg_flush,
	.flush_if_writable = pgbg_flush_if_writable,
	.is_send_pending = pgbg_is_send_pending,
	.putmessage = pgbg_putmessage,
	.putmessage_noblock = pgbg_putmessage_noblock
};

/*
 * pgbg_redirect_output
 *
 * Make the queue our client connection.  pq_redirect_to_shm_mq sets up
 * whereToSendOutput, the protocol version and the clean-up at segment
 * detach; we then put our own methods in front of it.  Its sender forces a
 * flush and a latch wake-up of the receiver for every single message and
 * waits under the MessageQueuePutMessage wait event; ours packs data rows
 * into batches and waits under MessageQueueSend, like any shm_mq sender.
 */
void
pgbg_redirect_output(dsm_segment *seg, shm_mq_handle *mqh,
					 pg_background_fixed *fixed)
{
	MemoryContext oldcontext;
	Size		queue_size = (Size) fixed->queue_size;

	pq_redirect_to_shm_mq(seg, mqh);

	oldcontext = MemoryContextSwitchTo(TopMemoryContext);
	initStringInfo(&pgbg_mq_batch);
	MemoryContextSwitchTo(oldcontext);

	/* A quarter of the ring keeps both sides busy at the same time */
	out_batch_limit = Min(queue_size / 2, PGBG_MAX_BATCH_SIZE);
	out_mqh = mqh;
	out_fixed = fixed;
	out_discard = fixed->discard_results;
	on_dsm_detach(seg, pgbg_output_cleanup, (Datum) 0);

	PqCommMethods = &pgbg_comm_methods;
}

/*
 * pgbg_putmessage
 *
 * Queue one protocol message.  Row descriptions, data rows and command
 * tags wait in the batch; anything else (notice, error, ready for query) is
 * sent at once together with what came before it, so the caller sees
 * notices and errors promptly and in order, and a short result arrives in
 * one piece (one wake-up of the caller).
 */
static int
pgbg_putmessage(char msgtype, const char *s, size_t len)
{
	uint32		len32 = (uint32) len;
	bool		urgent;
	char	   *frame;

	/* The end of our run goes into the segment, whatever becomes of it */
	if (msgtype == PGBG_MSG_ERROR_RESPONSE ||
		msgtype == PGBG_MSG_READY_FOR_QUERY)
		record_outcome(msgtype, s, len);
	if (out_discard)
		return 0;

	/*
	 * If we get here while a send is in progress, an interrupt raised an
	 * error in the middle of a message that the receiver has not taken.
	 * The stream cannot be continued, so give it up: the receiver reports a
	 * lost connection.  (pqmq.c does the same.)
	 */
	if (out_busy)
	{
		abandon_queue();
		return EOF;
	}
	if (out_mqh == NULL || out_receiver_gone)
		return EOF;

	/* Drop a DataRow whose building was interrupted by this very message */
	if (out_row_start >= 0)
	{
		pgbg_mq_batch.len = out_row_start;
		pgbg_mq_batch.data[pgbg_mq_batch.len] = '\0';
		out_row_start = -1;
	}

	/* Refuse what the receiver could not allocate, before sending a byte */
	if (len > MaxAllocSize - PGBG_FRAME_HEADER_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("message of %zu bytes is too large for the result queue",
						len)));

	urgent = (msgtype != PGBG_MSG_DATA_ROW &&
			  msgtype != PGBG_MSG_ROW_DESCRIPTION &&
			  msgtype != PGBG_MSG_COMMAND_COMPLETE);

	/* Make room: a batch never grows much beyond its limit */
	if (pgbg_mq_batch.len > 0 &&
		(Size) pgbg_mq_batch.len + PGBG_FRAME_HEADER_SIZE + len > out_batch_limit &&
		send_batch(false) != 0)
		return EOF;

	/* A message bigger than a batch goes alone, without being copied */
	if (PGBG_FRAME_HEADER_SIZE + len > out_batch_limit)
		return send_frame(msgtype, s, len, urgent);

	/* Append the frame (one row at a time: keep this cheap) */
	enlargeStringInfo(&pgbg_mq_batch, PGBG_FRAME_HEADER_SIZE + len);
	frame = pgbg_mq_batch.data + pgbg_mq_batch.len;
	frame[0] = msgtype;
	memcpy(frame + 1, &len32, sizeof(len32));
	memcpy(frame + PGBG_FRAME_HEADER_SIZE, s, len);
	pgbg_mq_batch.len += PGBG_FRAME_HEADER_SIZE + len;
	pgbg_mq_batch.data[pgbg_mq_batch.len] = '\0';

	if (urgent)
		return send_batch(true);
	if ((Size) pgbg_mq_batch.len >= out_batch_limit)
		return send_batch(false);
	return 0;
}

/*
 * pgbg_mq_sending
 *
 * Whether rows are to be sent at all: not once the caller has gone away,
 * nor by a submitted worker.  If an error interrupted a send (out_busy is
 * still set), the stream cannot be continued: give up the queue, as
 * pgbg_putmessage does.
 */
bool
pgbg_mq_sending(void)
{
	if (out_busy)
	{
		abandon_queue();
		return false;
	}
	return !(out_mqh == NULL || out_receiver_gone || out_discard);
}

/*
 * pgbg_mq_begin_row
 *
 * Start a DataRow frame at the end of the batch (its length is filled in
 * by pgbg_mq_end_row) and return room for its first len bytes, as
 * pgbg_mq_batch_room does.
 */
char *
pgbg_mq_begin_row(Size len)
{
	char	   *p;

	out_row_start = pgbg_mq_batch.len;
	p = pgbg_mq_batch_room(PGBG_FRAME_HEADER_SIZE + len);
	p[0] = PGBG_MSG_DATA_ROW;
	pgbg_mq_batch.len += PGBG_FRAME_HEADER_SIZE;
	return p + PGBG_FRAME_HEADER_SIZE;
}

/*
 * pgbg_mq_end_row
 *
 * The DataRow is complete: write its length into its frame, and send the
 * batch if it is full.
 */
void
pgbg_mq_end_row(void)
{
	uint32		n32;

	n32 = (uint32) (pgbg_mq_batch.len - out_row_start - PGBG_FRAME_HEADER_SIZE);
	memcpy(pgbg_mq_batch.data + out_row_start + 1, &n32, sizeof(n32));
	pgbg_mq_batch.data[pgbg_mq_batch.len] = '\0';
	out_row_start = -1;

	if ((Size) pgbg_mq_batch.len >= out_batch_limit)
		(void) send_batch(false);
}

/*
 * send_frame
 *
 * Send one large message as a queue message of its own.
 */
static int
send_frame(char msgtype, const char *s, size_t len, bool force_flush)
{
	char		header[PGBG_FRAME_HEADER_SIZE];
	uint32		len32 = (uint32) len;
	shm_mq_iovec iov[2];
	shm_mq_result res;

	header[0] = msgtype;
	memcpy(header + 1, &len32, sizeof(len32));
	iov[0].data = header;
	iov[0].len = PGBG_FRAME_HEADER_SIZE;
	iov[1].data = s;
	iov[1].len = len;

	out_busy = true;
#if PG_VERSION_NUM >= 150000
	res = shm_mq_sendv(out_mqh, iov, 2, false, force_flush);
#else
	res = shm_mq_sendv(out_mqh, iov, 2, false);
#endif
	out_busy = false;

	if (res != SHM_MQ_SUCCESS)
	{
		out_receiver_gone = true;
		return EOF;
	}
	return 0;
}

/*
 * send_batch
 *
 * Send the pending frames as one queue message, waiting for room if the
 * queue is full (wait event MessageQueueSend).  force_flush makes the
 * receiver see the bytes now rather than once a quarter of the ring has
 * been written (PostgreSQL 15 and later).
 */
static int
send_batch(bool force_flush)
{
	shm_mq_result res;

	if (pgbg_mq_batch.len == 0)
		return 0;

	out_busy = true;
#if PG_VERSION_NUM >= 150000
	res = shm_mq_send(out_mqh, pgbg_mq_batch.len, pgbg_mq_batch.data, false,
					  force_flush);
#else
	res = shm_mq_send(out_mqh, pgbg_mq_batch.len, pgbg_mq_batch.data, false);
#endif
	out_busy = false;

	resetStringInfo(&pgbg_mq_batch);

	/* The caller detached or exited: keep running, discard our output */
	if (res != SHM_MQ_SUCCESS)
	{
		out_receiver_gone = true;
		return EOF;
	}
	return 0;
}

/*
 * record_outcome
 *
 * Write how we ended into the segment, for the launching session to read
 * even if it never reads our results: done at ReadyForQuery, or the
 * message of our (first) error.
 */
static void
record_outcome(char msgtype, const char *s, size_t len)
{
	const char *p = s;
	const char *end = s + len;
	const char *message = NULL;
	size_t		message_len = 0;

	if (out_fixed == NULL)
		return;

	if (msgtype == PGBG_MSG_READY_FOR_QUERY)
	{
		pgbg_segment_report_end(out_fixed, PGBG_OUTCOME_DONE, NULL, 0);
		return;
	}

	/* An ErrorResponse: fields of a type byte and a string, then a zero */
	while (p < end && *p != '\0')
	{
		char		field = *p++;
		size_t		flen = strnlen(p, end - p);

		if (field == PG_DIAG_MESSAGE_PRIMARY)
		{
			message = p;
			message_len = flen;
		}
		p += flen + 1;
	}
	pgbg_segment_report_end(out_fixed, PGBG_OUTCOME_ERROR, message,
							message_len);
}

/*
 * abandon_queue
 *
 * Detach from the queue after an interrupted send.
 */
static void
abandon_queue(void)
{
	shm_mq_handle *mqh = out_mqh;

	out_mqh = NULL;
	out_busy = false;
	if (mqh != NULL)
		shm_mq_detach(mqh);
}

/*
 * pgbg_output_cleanup
 *
 * The segment is going away (at process exit): the queue lives in it.
 */
static void
pgbg_output_cleanup(dsm_segment *seg, Datum arg)
{
	out_mqh = NULL;
	out_fixed = NULL;
}

/*
 * pgbg_flush
 *
 * Send whatever is pending (ReadyForQuery and elog.c call this).
 */
static int
pgbg_flush(void)
{
	if (out_busy || out_mqh == NULL || out_receiver_gone)
		return 0;
	return send_batch(true);
}

/*
 * pgbg_flush_if_writable
 *
 * Nothing to do: the batch is sent when full or at the end of a command.
 */
static int
pgbg_flush_if_writable(void)
{
	return 0;
}

/*
 * pgbg_is_send_pending
 *
 * Report whether frames wait in the batch.
 */
static bool
pgbg_is_send_pending(void)
{
	return pgbg_mq_batch.len > 0;
}

/*
 * pgbg_comm_reset
 *
 * Only the interactive backend's error recovery calls this; nothing to do.
 */
static void
pgbg_comm_reset(void)
{
}

/*
 * pgbg_putmessage_noblock
 *
 * Only walsenders use the non-blocking variant; behave like putmessage.
 */
static void
pgbg_putmessage_noblock(char msgtype, const char *s, size_t len)
{
	(void) pgbg_putmessage(msgtype, s, len);
}
