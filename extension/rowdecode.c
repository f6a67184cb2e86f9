/*-------------------------------------------------------------------------
 *
 * rowdecode.c
 *	  Turning the worker's rows into rows of the caller's column definition
 *	  list: a RowDescription is checked against it column for column, and
 *	  says how each column arrives (text, or the image of a datum); each
 *	  DataRow then becomes values of the caller's types, through their input
 *	  functions or straight from the images.  When no statement returns
 *	  rows, the command tags are the rows.
 *
 * IDENTIFICATION
 *	  extension/rowdecode.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "frame.h"
#include "libpq/pqformat.h"
#include "parser/parse_coerce.h"
#include "port/pg_bswap.h"
#include "rowdecode.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * How a column of the worker's rows becomes a value of ours.
 */
#define COLUMN_TEXT				0	/* text: our column type's input function */
#define COLUMN_IMAGE			1	/* datum image of our very type: use it */
#define COLUMN_IMAGE_CONVERT	2	/* datum image of a binary coercible type
									 * or another typmod, or a domain: through
									 * its output and our input function */

static bool type_fits(Oid remote_type, Oid local_type);
static Datum text_value(pgbg_row_decoder *dec, int i, const char *p,
						int32 len);
static Datum image_value(pgbg_row_decoder *dec, int i, const char *p,
						 int32 len, Size *images_used);
static void mismatch_error(const char *detail_fmt,...) pg_attribute_printf(1, 2);

/*
 * pgbg_decoder_init
 *
 * Prepare the conversion into the column definition list tupdesc, in the
 * current memory context: the input functions depend only on it, so they
 * are looked up once per call, not per row.  before_column (with arg) is
 * called before each column of a DataRow is decoded.
 */
void
pgbg_decoder_init(pgbg_row_decoder *dec, TupleDesc tupdesc,
				  void (*before_column) (void *arg), void *arg)
{
	int			i;

	memset(dec, 0, sizeof(pgbg_row_decoder));
	dec->cxt = CurrentMemoryContext;
	dec->before_column = before_column;
	dec->arg = arg;
	dec->tupdesc = tupdesc;
	dec->natts = tupdesc->natts;
	dec->infuncs = palloc(sizeof(FmgrInfo) * dec->natts);
	dec->ioparams = palloc(sizeof(Oid) * dec->natts);
	dec->typmods = palloc(sizeof(int32) * dec->natts);
	dec->values = palloc(sizeof(Datum) * dec->natts);
	dec->nulls = palloc(sizeof(bool) * dec->natts);
	dec->scratch_size = 1024;
	dec->scratch = palloc(dec->scratch_size);
	dec->images_size = 1024;
	dec->images = palloc(dec->images_size);
	dec->modes = palloc0(sizeof(int) * dec->natts);
	dec->remote_typlen = palloc0(sizeof(int16) * dec->natts);
	dec->remote_typbyval = palloc0(sizeof(bool) * dec->natts);
	dec->remote_outfuncs = palloc0(sizeof(FmgrInfo) * dec->natts);

	for (i = 0; i < dec->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		Oid			infunc;

		getTypeInputInfo(attr->atttypid, &infunc, &dec->ioparams[i]);
		fmgr_info(infunc, &dec->infuncs[i]);
		dec->typmods[i] = attr->atttypmod;
	}
}

/*
 * pgbg_check_row_description
 *
 * A statement starts returning rows: they must fit the column definition
 * list, column for column.  Types must be equal or binary coercible (text
 * rows arrive for varchar columns, say); anything else is a mismatch.
 */
void
pgbg_check_row_description(pgbg_row_decoder *dec, const char *body,
						   uint32 len)
{
	StringInfoData msg;
	int			natts;
	int			i;

	pgbg_frame_message(&msg, body, len);

	natts = pq_getmsgint(&msg, 2);
	dec->all_images = true;
	if (natts != dec->natts)
		mismatch_error("The query returns %d column(s), but the column definition list has %d.",
					   natts, dec->natts);

	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(dec->tupdesc, i);
		Oid			remote_type;
		int32		remote_typmod;
		int			format;

		(void) pq_getmsgrawstring(&msg);	/* column name */
		(void) pq_getmsgint(&msg, 4);	/* table OID */
		(void) pq_getmsgint(&msg, 2);	/* column number */
		remote_type = pq_getmsgint(&msg, 4);
		(void) pq_getmsgint(&msg, 2);	/* type length */
		remote_typmod = pq_getmsgint(&msg, 4);
		format = pq_getmsgint(&msg, 2);

		if (!type_fits(remote_type, attr->atttypid))
			mismatch_error("Column %d of the query has type %s, but the column definition list says %s.",
						   i + 1, format_type_be(remote_type),
						   format_type_be(attr->atttypid));

		if (format != PGBG_FORMAT_RAW)
			dec->modes[i] = COLUMN_TEXT;
		else
		{
			/*
			 * The image can be used as it is if it is of our type (or one
			 * stored the same way) and no typmod or domain constraint of
			 * ours needs checking.
			 */
			get_typlenbyval(remote_type, &dec->remote_typlen[i],
							&dec->remote_typbyval[i]);
			if ((remote_type == attr->atttypid ||
				 get_typtype(attr->atttypid) != TYPTYPE_DOMAIN) &&
				(attr->atttypmod < 0 || attr->atttypmod == remote_typmod))
				dec->modes[i] = COLUMN_IMAGE;
			else
			{
				Oid			outfunc;
				bool		isvarlena;

				getTypeOutputInfo(remote_type, &outfunc, &isvarlena);
				fmgr_info_cxt(outfunc, &dec->remote_outfuncs[i],
							  dec->cxt);
				dec->modes[i] = COLUMN_IMAGE_CONVERT;
			}
		}
		/* A NULL goes through a non-strict input function (domain_in) */
		if (dec->modes[i] != COLUMN_IMAGE || !dec->infuncs[i].fn_strict)
			dec->all_images = false;
	}
}

/*
 * type_fits
 *
 * Can values of the worker's column type become values of ours?  Yes if
 * the types are equal or binary coercible, or if ours is a domain over
 * such a type (a RowDescription names a domain's base type).
 */
static bool
type_fits(Oid remote_type, Oid local_type)
{
	Oid			local_base;

	if (remote_type == local_type || IsBinaryCoercible(remote_type, local_type))
		return true;
	local_base = getBaseType(local_type);
	return local_base != local_type &&
		(remote_type == local_base || IsBinaryCoercible(remote_type, local_base));
}

/*
 * pgbg_check_tag_shape
 *
 * Command tags are returned as a single text column.
 */
void
pgbg_check_tag_shape(pgbg_row_decoder *dec)
{
	Oid			local_type;

	if (dec->natts != 1)
		mismatch_error("The command returns its command tag as 1 column of type text, but the column definition list has %d.",
					   dec->natts);
	local_type = TupleDescAttr(dec->tupdesc, 0)->atttypid;
	if (!type_fits(TEXTOID, local_type))
		mismatch_error("The command returns its command tag as 1 column of type text, but the column definition list says %s.",
					   format_type_be(local_type));
}

/*
 * mismatch_error
 *
 * The caller's column definition list does not describe the worker's rows.
 */
static void
mismatch_error(const char *detail_fmt,...)
{
	va_list		args;
	StringInfoData detail;

	initStringInfo(&detail);
	for (;;)
	{
		int			needed;

		va_start(args, detail_fmt);
		needed = appendStringInfoVA(&detail, detail_fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&detail, needed);
	}

	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("remote query result rowtype does not match the specified FROM clause rowtype"),
			 errdetail_internal("%s", detail.data)));
}

/*
 * pgbg_decode_row
 *
 * Turn one DataRow into values of the column definition list, in the
 * current memory context (none is allocated if all_images).
 */
void
pgbg_decode_row(pgbg_row_decoder *dec, const char *body, uint32 len)
{
	const char *p = body;
	const char *end = body + len;
	uint16		n16;
	Size		images_used = 0;
	int			i;

	if (len < sizeof(n16))
		elog(ERROR, "truncated data row from background worker");
	memcpy(&n16, p, sizeof(n16));
	p += sizeof(n16);
	if (pg_ntoh16(n16) != dec->natts)
		elog(ERROR, "data row from background worker has %d columns, expected %d",
			 (int) pg_ntoh16(n16), dec->natts);

	/* Room for aligned copies of every datum image in the row */
	if (len + dec->natts * MAXIMUM_ALIGNOF > dec->images_size)
	{
		MemoryContext cxt = GetMemoryChunkContext(dec->images);

		pfree(dec->images);
		dec->images_size = Max(len + dec->natts * MAXIMUM_ALIGNOF,
								 dec->images_size * 2);
		dec->images = MemoryContextAlloc(cxt, dec->images_size);
	}

	for (i = 0; i < dec->natts; i++)
	{
		uint32		n32;
		int32		collen;

		/*
		 * The input function of a column (a domain's check) may have run
		 * SQL that let go of the worker: the row lives in its segment.
		 */
		if (dec->before_column != NULL)
			dec->before_column(dec->arg);

		if (end - p < (ptrdiff_t) sizeof(n32))
			elog(ERROR, "truncated data row from background worker");
		memcpy(&n32, p, sizeof(n32));
		p += sizeof(n32);
		collen = (int32) pg_ntoh32(n32);

		if (collen < 0)
		{
			/* NULL; the input function still runs for domains */
			dec->values[i] = InputFunctionCall(&dec->infuncs[i], NULL,
												 dec->ioparams[i],
												 dec->typmods[i]);
			dec->nulls[i] = true;
			continue;
		}

		if (end - p < collen)
			elog(ERROR, "truncated data row from background worker");

		if (dec->modes[i] == COLUMN_TEXT)
			dec->values[i] = text_value(dec, i, p, collen);
		else
		{
			Datum		image = image_value(dec, i, p, collen, &images_used);

			if (dec->modes[i] == COLUMN_IMAGE)
				dec->values[i] = image;
			else
			{
				char	   *str;

				str = OutputFunctionCall(&dec->remote_outfuncs[i], image);
				dec->values[i] = InputFunctionCall(&dec->infuncs[i], str,
													 dec->ioparams[i],
													 dec->typmods[i]);
			}
		}
		dec->nulls[i] = false;
		p += collen;
	}
}

/*
 * text_value
 *
 * A column sent as text: our type's input function makes the value.
 */
static Datum
text_value(pgbg_row_decoder *dec, int i, const char *p, int32 len)
{
	if ((Size) len >= dec->scratch_size)
	{
		MemoryContext cxt = GetMemoryChunkContext(dec->scratch);

		pfree(dec->scratch);
		dec->scratch_size = Max((Size) len + 1, dec->scratch_size * 2);
		dec->scratch = MemoryContextAlloc(cxt, dec->scratch_size);
	}
	memcpy(dec->scratch, p, len);
	dec->scratch[len] = '\0';

	return InputFunctionCall(&dec->infuncs[i], dec->scratch,
							 dec->ioparams[i], dec->typmods[i]);
}

/*
 * image_value
 *
 * A column sent as the image of its datum: rebuild the datum from an
 * aligned copy (heap_form_tuple copies it into the tuple).
 */
static Datum
image_value(pgbg_row_decoder *dec, int i, const char *p, int32 len,
			Size *images_used)
{
	int16		typlen = dec->remote_typlen[i];
	char	   *copy;

	if (dec->remote_typbyval[i])
	{
		if (len != typlen)
			elog(ERROR, "malformed column from background worker");
		switch (typlen)
		{
			case sizeof(char):
				return CharGetDatum(*p);
			case sizeof(int16):
				{
					int16		v;

					memcpy(&v, p, sizeof(v));
					return Int16GetDatum(v);
				}
			case sizeof(int32):
				{
					int32		v;

					memcpy(&v, p, sizeof(v));
					return Int32GetDatum(v);
				}
#if SIZEOF_DATUM == 8
			case sizeof(Datum):
				{
					Datum		v;

					memcpy(&v, p, sizeof(v));
					return v;
				}
#endif
			default:
				elog(ERROR, "unsupported by-value type length %d", typlen);
		}
	}

	if ((typlen > 0 && len != typlen) ||
		(typlen == -1 && (len < 1 || VARSIZE_ANY(p) != (Size) len)) ||
		(typlen == -2 && (len < 1 || p[len - 1] != '\0')))
		elog(ERROR, "malformed column from background worker");

	copy = dec->images + *images_used;
	memcpy(copy, p, len);
	*images_used += MAXALIGN(len);
	return PointerGetDatum(copy);
}

/*
 * pgbg_decode_tag
 *
 * One command tag as a row of a single text-like column.
 */
void
pgbg_decode_tag(pgbg_row_decoder *dec, const char *tag)
{
	dec->values[0] = InputFunctionCall(&dec->infuncs[0], (char *) tag,
										 dec->ioparams[0],
										 dec->typmods[0]);
	dec->nulls[0] = false;
}
