/*-------------------------------------------------------------------------
 *
 * mqdest.c
 *	  The DestReceiver of the worker's portals: it sends a portal's rows as
 *	  RowDescription and DataRow messages, as printtup does for DestRemote,
 *	  but writes each DataRow straight into the batch of mqcomm.c.
 *
 *	  Columns of ordinary types travel as the image of their datum (format
 *	  code PGBG_FORMAT_RAW in the RowDescription): the caller runs the same
 *	  server on the same database, so it can use the image as it is and
 *	  neither side pays for output and input functions.  Pseudo-types, such
 *	  as anonymous records whose row types exist only in this process,
 *	  travel as text (format code 0), and so does every column with
 *	  pg_background.text_transfer.
 *
 * IDENTIFICATION
 *	  extension/mqdest.c
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
#include "frame.h"
#include "mqcomm.h"
#include "mqdest.h"
#include "port/pg_bswap.h"
#include "settings.h"
#include "tcop/pquery.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

/* How one column is sent. */
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
	char	   *p;
	uint32		n32;
	uint16		n16;
	int			i;

	if (!pgbg_mq_sending())
		return true;

	slot_getallattrs(slot);

	/* Frame header (its length comes last) and column count */
	p = pgbg_mq_begin_row(sizeof(n16));
	n16 = pg_hton16((uint16) myState->natts);
	memcpy(p, &n16, sizeof(n16));
	pgbg_mq_batch.len += sizeof(n16);

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
			memcpy(pgbg_mq_batch_room(sizeof(n32)), &n32, sizeof(n32));
			pgbg_mq_batch.len += sizeof(n32);
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
		p = pgbg_mq_batch_room(sizeof(n32) + len);
		n32 = pg_hton32((uint32) len);
		memcpy(p, &n32, sizeof(n32));
		memcpy(p + sizeof(n32), data, len);
		pgbg_mq_batch.len += sizeof(n32) + len;
	}

	if (row_context_used)
		MemoryContextReset(myState->row_context);

	/* The frame's length, now known; the batch goes out when full */
	pgbg_mq_end_row();
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
