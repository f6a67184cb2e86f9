/*-------------------------------------------------------------------------
 *
 * output.c
 *	  The worker's end of the result queue: everything the server would send
 *	  to a client (rows, command tags, errors, notices) is framed, packed into
 *	  batches and sent over the shm_mq to the session that launched us.  The
 *	  rows come from our DestReceiver, everything else from the server's own
 *	  code through our PqCommMethods.
 *
 * IDENTIFICATION
 *	  extension/output.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/printtup.h"
#include "access/tupmacs.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "libpq/libpq.h"
#include "libpq/pqformat.h"
#include "libpq/pqmq.h"
#include "pg_background.h"
#include "port/pg_bswap.h"
#include "storage/dsm.h"
#include "storage/shm_mq.h"
#include "tcop/pquery.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

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
static StringInfoData out_batch;
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

/*
 * A DestReceiver that sends rows as RowDescription and DataRow messages, as
 * printtup does for DestRemote, but writes each DataRow straight into the
 * batch.  Columns of ordinary types travel as the image of their datum
 * (format code PGBG_FORMAT_RAW in the RowDescription): the caller runs the
 * same server on the same database, so it can use the image as it is and
 * neither side pays for output and input functions.  Pseudo-types, such as
 * anonymous records whose row types exist only in this process, travel as
 * text (format code 0).
 */
typedef struct pgbg_column
{
	bool		raw;			/* send the datum's image, not its text */
	int16		typlen;			/* for raw columns */
	bool		typbyval;
	FmgrInfo	outfunc;		/* for text columns */
} pgbg_column;

typedef struct pgbg_receiver
{
	DestReceiver pub;			/* public part, must be first */
	Portal		portal;			/* for the target list of the RowDescription */
	int			natts;			/* columns of the current tuple descriptor */
	pgbg_column *columns;		/* how to send each of them */
	MemoryContext row_context;	/* reset after each row that used it */
} pgbg_receiver;

static void pgbg_receiver_startup(DestReceiver *self, int operation,
								  TupleDesc typeinfo);
static bool pgbg_receiver_receive(TupleTableSlot *slot, DestReceiver *self);
static void pgbg_receiver_shutdown(DestReceiver *self);
static void pgbg_receiver_destroy(DestReceiver *self);

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
	initStringInfo(&out_batch);
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
		out_batch.len = out_row_start;
		out_batch.data[out_batch.len] = '\0';
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
	if (out_batch.len > 0 &&
		(Size) out_batch.len + PGBG_FRAME_HEADER_SIZE + len > out_batch_limit &&
		send_batch(false) != 0)
		return EOF;

	/* A message bigger than a batch goes alone, without being copied */
	if (PGBG_FRAME_HEADER_SIZE + len > out_batch_limit)
		return send_frame(msgtype, s, len, urgent);

	/* Append the frame (one row at a time: keep this cheap) */
	enlargeStringInfo(&out_batch, PGBG_FRAME_HEADER_SIZE + len);
	frame = out_batch.data + out_batch.len;
	frame[0] = msgtype;
	memcpy(frame + 1, &len32, sizeof(len32));
	memcpy(frame + PGBG_FRAME_HEADER_SIZE, s, len);
	out_batch.len += PGBG_FRAME_HEADER_SIZE + len;
	out_batch.data[out_batch.len] = '\0';

	if (urgent)
		return send_batch(true);
	if ((Size) out_batch.len >= out_batch_limit)
		return send_batch(false);
	return 0;
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

	if (out_batch.len == 0)
		return 0;

	out_busy = true;
#if PG_VERSION_NUM >= 150000
	res = shm_mq_send(out_mqh, out_batch.len, out_batch.data, false,
					  force_flush);
#else
	res = shm_mq_send(out_mqh, out_batch.len, out_batch.data, false);
#endif
	out_busy = false;

	resetStringInfo(&out_batch);

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
 * message of our (first) error.  The outcome word is written last.
 */
static void
record_outcome(char msgtype, const char *s, size_t len)
{
	const char *p = s;
	const char *end = s + len;

	if (out_fixed == NULL ||
		pg_atomic_read_u32(&out_fixed->outcome) != PGBG_OUTCOME_NONE)
		return;

	out_fixed->finished_at = GetCurrentTimestamp();
	if (msgtype == PGBG_MSG_READY_FOR_QUERY)
	{
		pg_write_barrier();
		pg_atomic_write_u32(&out_fixed->outcome, PGBG_OUTCOME_DONE);
		return;
	}

	/* An ErrorResponse: fields of a type byte and a string, then a zero */
	out_fixed->last_error[0] = '\0';
	while (p < end && *p != '\0')
	{
		char		field = *p++;
		size_t		flen = strnlen(p, end - p);

		if (field == PG_DIAG_MESSAGE_PRIMARY)
			strlcpy(out_fixed->last_error, p,
					Min(flen + 1, sizeof(out_fixed->last_error)));
		p += flen + 1;
	}
	pg_write_barrier();
	pg_atomic_write_u32(&out_fixed->outcome, PGBG_OUTCOME_ERROR);
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
	return out_batch.len > 0;
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

/*
 * pgbg_create_receiver
 *
 * The receiver for one portal's rows.
 */
DestReceiver *
pgbg_create_receiver(Portal portal)
{
	pgbg_receiver *self = palloc0(sizeof(pgbg_receiver));

	self->pub.receiveSlot = pgbg_receiver_receive;
	self->pub.rStartup = pgbg_receiver_startup;
	self->pub.rShutdown = pgbg_receiver_shutdown;
	self->pub.rDestroy = pgbg_receiver_destroy;
	self->pub.mydest = DestRemote;
	self->portal = portal;

	return (DestReceiver *) self;
}

/*
 * pgbg_receiver_startup
 *
 * Describe the rows to come and look up the output functions once.
 */
static void
pgbg_receiver_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	pgbg_receiver *myState = (pgbg_receiver *) self;
	StringInfoData buf;
	int16	   *formats;
	bool		text_transfer;
	int			i;

	myState->natts = typeinfo->natts;
	formats = palloc0(sizeof(int16) * Max(typeinfo->natts, 1));
	myState->columns = palloc0(sizeof(pgbg_column) * Max(typeinfo->natts, 1));
	text_transfer = pgbg_text_transfer_wanted();
	for (i = 0; i < typeinfo->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(typeinfo, i);
		pgbg_column *col = &myState->columns[i];

		if (!text_transfer &&
			get_typtype(attr->atttypid) != TYPTYPE_PSEUDO)
		{
			col->raw = true;
			col->typlen = attr->attlen;
			col->typbyval = attr->attbyval;
			formats[i] = PGBG_FORMAT_RAW;
		}
		else
		{
			Oid			outfunc;
			bool		isvarlena;

			getTypeOutputInfo(attr->atttypid, &outfunc, &isvarlena);
			fmgr_info(outfunc, &col->outfunc);
		}
	}
	myState->row_context = AllocSetContextCreate(CurrentMemoryContext,
												 "pg_background output row",
												 ALLOCSET_DEFAULT_SIZES);

	/* The RowDescription, as printtup sends it, with our format codes */
	initStringInfo(&buf);
	SendRowDescriptionMessage(&buf, typeinfo,
							  FetchPortalTargetList(myState->portal), formats);
	pfree(buf.data);
	pfree(formats);
}

/*
 * batch_room
 *
 * Make room for len more bytes at the end of the batch (and its
 * terminator), and return where they go.  Inline: one comparison per
 * column while the batch has room, which is almost always.
 */
static inline char *
batch_room(Size len)
{
	if ((Size) (out_batch.maxlen - out_batch.len) <= len)
		enlargeStringInfo(&out_batch, len);
	return out_batch.data + out_batch.len;
}

/*
 * pgbg_receiver_receive
 *
 * Append one DataRow to the batch: column count, then for each column its
 * length (-1 for NULL) and its datum image or text, written in one pass
 * straight into the batch; the frame's length is filled in at the end.
 * This runs once per row of every result, so it does no more than that.
 * Nothing is formatted once the caller has gone away.
 */
static bool
pgbg_receiver_receive(TupleTableSlot *slot, DestReceiver *self)
{
	pgbg_receiver *myState = (pgbg_receiver *) self;
	bool		row_context_used = false;
	int			start;
	char	   *p;
	uint32		n32;
	uint16		n16;
	int			i;

	if (out_busy)
	{
		abandon_queue();
		return true;
	}
	if (out_mqh == NULL || out_receiver_gone || out_discard)
		return true;

	slot_getallattrs(slot);

	/* Frame header (its length comes last) and column count */
	start = out_row_start = out_batch.len;
	p = batch_room(PGBG_FRAME_HEADER_SIZE + sizeof(n16));
	p[0] = PGBG_MSG_DATA_ROW;
	n16 = pg_hton16((uint16) myState->natts);
	memcpy(p + PGBG_FRAME_HEADER_SIZE, &n16, sizeof(n16));
	out_batch.len += PGBG_FRAME_HEADER_SIZE + sizeof(n16);

	for (i = 0; i < myState->natts; i++)
	{
		pgbg_column *col = &myState->columns[i];
		Datum		value = slot->tts_values[i];
		Datum		image;
		const char *data;
		Size		len;

		if (slot->tts_isnull[i])
		{
			n32 = pg_hton32((uint32) -1);
			memcpy(batch_room(sizeof(n32)), &n32, sizeof(n32));
			out_batch.len += sizeof(n32);
			continue;
		}

		if (!col->raw)
		{
			/* Text, as printtup would send it */
			MemoryContext oldcontext;

			oldcontext = MemoryContextSwitchTo(myState->row_context);
			data = OutputFunctionCall(&col->outfunc, value);
			MemoryContextSwitchTo(oldcontext);
			len = strlen(data);
			row_context_used = true;
		}
		else if (col->typbyval)
		{
			/* The value itself, in its stored width */
			store_att_byval(&image, value, col->typlen);
			data = (const char *) &image;
			len = col->typlen;
		}
		else if (col->typlen > 0)
		{
			data = DatumGetPointer(value);
			len = col->typlen;
		}
		else if (col->typlen == -1)
		{
			/* Varlena: never a TOAST pointer, which would not outlive us */
			struct varlena *v = (struct varlena *) DatumGetPointer(value);

			if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
			{
				MemoryContext oldcontext;

				oldcontext = MemoryContextSwitchTo(myState->row_context);
				v = detoast_attr(v);
				MemoryContextSwitchTo(oldcontext);
				row_context_used = true;
			}
			data = (const char *) v;
			len = VARSIZE_ANY(v);
		}
		else
		{
			/* cstring, with its terminator */
			data = DatumGetCString(value);
			len = strlen(data) + 1;
		}

		if (len > (Size) PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("column value of %zu bytes is too large for the result queue",
							len)));
		p = batch_room(sizeof(n32) + len);
		n32 = pg_hton32((uint32) len);
		memcpy(p, &n32, sizeof(n32));
		memcpy(p + sizeof(n32), data, len);
		out_batch.len += sizeof(n32) + len;
	}

	/* The frame's length, now known */
	n32 = (uint32) (out_batch.len - start - PGBG_FRAME_HEADER_SIZE);
	memcpy(out_batch.data + start + 1, &n32, sizeof(n32));
	out_batch.data[out_batch.len] = '\0';
	out_row_start = -1;

	if (row_context_used)
		MemoryContextReset(myState->row_context);

	if ((Size) out_batch.len >= out_batch_limit)
		(void) send_batch(false);
	return true;
}

/*
 * pgbg_receiver_shutdown
 *
 * End of the portal's rows: release per-portal state.
 */
static void
pgbg_receiver_shutdown(DestReceiver *self)
{
	pgbg_receiver *myState = (pgbg_receiver *) self;

	if (myState->columns != NULL)
		pfree(myState->columns);
	myState->columns = NULL;
	if (myState->row_context != NULL)
		MemoryContextDelete(myState->row_context);
	myState->row_context = NULL;
}

/*
 * pgbg_receiver_destroy
 *
 * Free the receiver itself.
 */
static void
pgbg_receiver_destroy(DestReceiver *self)
{
	pfree(self);
}
