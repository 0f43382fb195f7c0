/*
 * geninv._ckernels: compiled loops for reading small integer networks (geninv.kernels).
 *
 * Each function does the work of several numpy calls in one pass; its numpy twin
 * is the reference and tests/test_kernels.py holds the two equal:
 *
 *   layer_plan, layer_plan2  ReLUNetwork.integer_layers (integrality, row sums of |W|)
 *   clause_cnf               geninv.solvers.sat.clause_form._corner_arrays + the clause literals
 *   affine_int               ReLUNetwork.forward_int (exact for integers below 2^53)
 *
 * It is C rather than numba because importing numba and loading cached kernels
 * takes about a second per process, while this module loads in well under a
 * millisecond; pip builds it when a C compiler is present (optional: without one
 * geninv uses numpy).
 *
 * Arrays are read through the buffer protocol (no numpy headers are needed to
 * build); an argument that is not a C-contiguous float64 array is converted with
 * numpy.ascontiguousarray first.  Array results are made by numpy.empty and
 * filled in place; results the callers want as Python objects (clauses, ints)
 * are built directly.  Every sum runs left to right in double precision; the
 * callers rely on exactness only for integers below 2^53, which holds in any
 * order.  No -ffast-math: the comparisons must see IEEE values.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

static PyObject *np_empty, *np_contig, *dt_f64;

#define NO_JUMP 1152921504606846976.0 /* 2^60, as sat.clause_form._NO_JUMP */

typedef struct {
    Py_buffer view;
    int have;
} Arr;

static int
is_f64(const char *fmt)
{
    if (fmt == NULL)
        return 0;
    if (fmt[0] == '<' || fmt[0] == '=' || fmt[0] == '@')
        fmt++;
    return fmt[0] == 'd' && fmt[1] == '\0';
}

/* A C-contiguous float64 view of `obj` with `ndim` dimensions; anything else is
   converted by numpy.ascontiguousarray(obj, float64) first.  -1 with an error set
   (and nothing held) when that fails or the dimensions differ. */
static int
get_arr(PyObject *obj, int ndim, Arr *a, const char *name)
{
    const int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT;
    a->have = 0;
    if (PyObject_GetBuffer(obj, &a->view, flags) == 0) {
        if (a->view.ndim == ndim && a->view.itemsize == 8 && is_f64(a->view.format)) {
            a->have = 1;
            return 0;
        }
        PyBuffer_Release(&a->view);
    }
    else {
        PyErr_Clear();
    }
    PyObject *conv = PyObject_CallFunctionObjArgs(np_contig, obj, dt_f64, NULL);
    if (conv == NULL)
        return -1;
    int rc = PyObject_GetBuffer(conv, &a->view, flags);
    Py_DECREF(conv); /* the view holds its own reference to conv */
    if (rc < 0)
        return -1;
    if (a->view.ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s: expected a %d-dimensional array, got %d dimensions",
                     name, ndim, a->view.ndim);
        PyBuffer_Release(&a->view);
        return -1;
    }
    a->have = 1;
    return 0;
}

static void
release(Arr *a)
{
    if (a->have) {
        PyBuffer_Release(&a->view);
        a->have = 0;
    }
}

static Py_ssize_t
dim(const Arr *a, int k)
{
    return a->view.shape[k];
}

/* A new float64 numpy array of length k (numpy.empty) and its data. */
static PyObject *
new_array(Py_ssize_t k, double **data)
{
    PyObject *shape = Py_BuildValue("(n)", k);
    if (shape == NULL)
        return NULL;
    PyObject *arr = PyObject_CallFunctionObjArgs(np_empty, shape, dt_f64, NULL);
    Py_DECREF(shape);
    if (arr == NULL)
        return NULL;
    Py_buffer v;
    if (PyObject_GetBuffer(arr, &v, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    *data = (double *)v.buf; /* owned by the array, which outlives this call */
    PyBuffer_Release(&v);
    return arr;
}

static int
check_nargs(Py_ssize_t nargs, Py_ssize_t want, const char *fn)
{
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", fn, want, nargs);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ layer_plan */

/* Row sums of |w| into rows, their max and max |b|; 0 when an entry is not an
   integer (v != floor(v), so NaN is not one either). */
static int
plan_core(const double *w, Py_ssize_t m, Py_ssize_t n, const double *b, Py_ssize_t nb,
          double *rows, double *rmax, double *bmax)
{
    double top = 0.0, btop = 0.0;
    *rmax = 0.0;
    *bmax = 0.0;
    for (Py_ssize_t i = 0; i < m; i++) {
        double s = 0.0;
        const double *row = w + i * n;
        for (Py_ssize_t j = 0; j < n; j++) {
            double v = row[j];
            if (v != floor(v))
                return 0;
            s += fabs(v);
        }
        rows[i] = s;
        if (s > top)
            top = s;
    }
    for (Py_ssize_t i = 0; i < nb; i++) {
        double v = b[i];
        if (v != floor(v))
            return 0;
        if (fabs(v) > btop)
            btop = fabs(v);
    }
    *rmax = top;
    *bmax = btop;
    return 1;
}

/* (integer, rows, rmax, bmax) of one layer, as a new 4-tuple. */
static PyObject *
plan_tuple(PyObject *w_obj, PyObject *b_obj, int *ok_out, PyObject **rows_out)
{
    Arr w, b;
    if (get_arr(w_obj, 2, &w, "w") < 0)
        return NULL;
    if (get_arr(b_obj, 1, &b, "b") < 0) {
        release(&w);
        return NULL;
    }
    double *rows;
    PyObject *rows_arr = new_array(dim(&w, 0), &rows);
    if (rows_arr == NULL) {
        release(&w);
        release(&b);
        return NULL;
    }
    double rmax, bmax;
    int ok = plan_core((const double *)w.view.buf, dim(&w, 0), dim(&w, 1),
                       (const double *)b.view.buf, dim(&b, 0), rows, &rmax, &bmax);
    release(&w);
    release(&b);
    if (ok_out != NULL)
        *ok_out = ok;
    if (rows_out != NULL) {
        Py_INCREF(rows_arr);
        *rows_out = rows_arr;
    }
    return Py_BuildValue("(NNdd)", PyBool_FromLong(ok), rows_arr, rmax, bmax);
}

static PyObject *
layer_plan(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_nargs(nargs, 2, "layer_plan") < 0)
        return NULL;
    return plan_tuple(args[0], args[1], NULL, NULL);
}

/* The 8-tuple of layer_plan2; *rows1 gets a new reference to the first row sums. */
static PyObject *
plan2(PyObject *const *args, int *ok_both, PyObject **rows1)
{
    int ok1 = 0, ok2 = 0;
    PyObject *first = plan_tuple(args[0], args[1], &ok1, rows1);
    if (first == NULL)
        return NULL;
    PyObject *second;
    if (ok1) {
        second = plan_tuple(args[2], args[3], &ok2, NULL);
        if (second == NULL) {
            Py_DECREF(first);
            Py_CLEAR(*rows1);
            return NULL;
        }
    }
    else { /* (False, rows1, 0.0, 0.0) for both layers: no plan */
        second = Py_BuildValue("(OOdd)", Py_False, PyTuple_GET_ITEM(first, 1), 0.0, 0.0);
        if (second == NULL) {
            Py_DECREF(first);
            Py_CLEAR(*rows1);
            return NULL;
        }
    }
    *ok_both = ok1 && ok2;
    PyObject *out = PyTuple_New(8);
    if (out == NULL) {
        Py_DECREF(first);
        Py_DECREF(second);
        Py_CLEAR(*rows1);
        return NULL;
    }
    for (int k = 0; k < 4; k++) {
        PyObject *x = PyTuple_GET_ITEM(first, k), *y = PyTuple_GET_ITEM(second, k);
        Py_INCREF(x);
        Py_INCREF(y);
        PyTuple_SET_ITEM(out, k, x);
        PyTuple_SET_ITEM(out, 4 + k, y);
    }
    Py_DECREF(first);
    Py_DECREF(second);
    return out;
}

static PyObject *
layer_plan2(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_nargs(nargs, 4, "layer_plan2") < 0)
        return NULL;
    int ok = 0;
    PyObject *rows1 = NULL;
    PyObject *out = plan2(args, &ok, &rows1);
    Py_XDECREF(rows1);
    return out;
}

/* ------------------------------------------------------------------ clause_cnf */

/* The clauses of the rows i with need[i], as a list of lists of Python ints:
   -(v+1) for w_iv > 0, v+1 for w_iv < 0 (the literal "z_v differs from the
   corner"), row after row. */
static PyObject *
clauses_of(const double *w, Py_ssize_t m, Py_ssize_t n, const unsigned char *need)
{
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < m; i++) {
        if (!need[i])
            continue;
        const double *row = w + i * n;
        Py_ssize_t c = 0;
        for (Py_ssize_t j = 0; j < n; j++)
            c += row[j] != 0;
        PyObject *clause = PyList_New(c);
        if (clause == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        Py_ssize_t k = 0;
        for (Py_ssize_t j = 0; j < n; j++) {
            double v = row[j];
            if (v == 0)
                continue;
            PyObject *lit = PyLong_FromSsize_t(v > 0 ? -(j + 1) : j + 1);
            if (lit == NULL) {
                Py_DECREF(clause);
                Py_DECREF(out);
                return NULL;
            }
            PyList_SET_ITEM(clause, k++, lit);
        }
        int rc = PyList_Append(out, clause);
        Py_DECREF(clause);
        if (rc < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

static PyObject *
list_of_doubles(const double *v, Py_ssize_t k)
{
    PyObject *out = PyList_New(k);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *x = PyFloat_FromDouble(v[i]);
        if (x == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, x);
    }
    return out;
}

/* The corner shape of a two-layer network (its numpy twin: sat._corner_arrays):
   (True, d, smallest, number of constant units, clauses) with d and smallest as
   lists of floats and the clauses of every unit that feeds some output, or
   (False, None, None, 0, None) when some unit is no corner indicator or some
   indicator feeds an output negatively. */
static PyObject *
shape_core(const double *W, const double *B, const double *S, int sign, const double *A,
           const double *B2, Py_ssize_t m, Py_ssize_t n, Py_ssize_t q)
{
    PyObject *out = NULL;
    double *amax = PyMem_Malloc(sizeof(double) * (size_t)(m > 0 ? m : 1));
    double *d = PyMem_Malloc(sizeof(double) * (size_t)(q > 0 ? q : 1));
    double *smallest = PyMem_Malloc(sizeof(double) * (size_t)(q > 0 ? q : 1));
    unsigned char *constant = PyMem_Malloc((size_t)(m > 0 ? m : 1));
    unsigned char *used = PyMem_Calloc((size_t)(m > 0 ? m : 1), 1);
    if (amax == NULL || d == NULL || smallest == NULL || constant == NULL || used == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < q; j++) {
        d[j] = B2[j];
        smallest[j] = NO_JUMP;
    }
    const double span = sign ? 2.0 : 1.0;
    long n_constant = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        const double *row = W + i * n;
        double top;
        if (sign) {
            top = B[i] + S[i];
        }
        else {
            double pos = 0.0;
            for (Py_ssize_t j = 0; j < n; j++)
                if (row[j] > 0)
                    pos += row[j];
            top = B[i] + pos;
        }
        amax[i] = top;
        int cst = top <= 0 || S[i] == 0;
        constant[i] = (unsigned char)cst;
        n_constant += cst;
        if (!cst && top > span) {
            for (Py_ssize_t j = 0; j < n; j++) {
                double v = fabs(row[j]);
                if (v != 0 && v * span < top) {
                    out = Py_BuildValue("(OOOiO)", Py_False, Py_None, Py_None, 0, Py_None);
                    goto done;
                }
            }
        }
    }
    for (Py_ssize_t j = 0; j < q; j++) {
        const double *arow = A + j * m;
        for (Py_ssize_t i = 0; i < m; i++) {
            double v = arow[i];
            if (constant[i]) {
                if (amax[i] > 0)
                    d[j] += v * amax[i];
            }
            else if (v < 0) {
                out = Py_BuildValue("(OOOiO)", Py_False, Py_None, Py_None, 0, Py_None);
                goto done;
            }
            else if (v != 0) {
                used[i] = 1;
                double s = v * amax[i];
                if (s < smallest[j])
                    smallest[j] = s;
            }
        }
    }
    PyObject *d_list = list_of_doubles(d, q);
    PyObject *s_list = d_list ? list_of_doubles(smallest, q) : NULL;
    PyObject *clauses = s_list ? clauses_of(W, m, n, used) : NULL;
    if (clauses == NULL) {
        Py_XDECREF(d_list);
        Py_XDECREF(s_list);
        goto done;
    }
    out = Py_BuildValue("(ONNlN)", Py_True, d_list, s_list, n_constant, clauses);
done:
    PyMem_Free(amax);
    PyMem_Free(d);
    PyMem_Free(smallest);
    PyMem_Free(constant);
    PyMem_Free(used);
    return out;
}

static PyObject *
clause_cnf(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_nargs(nargs, 5, "clause_cnf") < 0)
        return NULL;
    int sign = PyObject_IsTrue(args[4]);
    if (sign < 0)
        return NULL;
    int ok = 0;
    PyObject *rows1 = NULL;
    PyObject *plan = plan2(args, &ok, &rows1);
    if (plan == NULL)
        return NULL;
    if (!ok) {
        Py_XDECREF(rows1);
        return Py_BuildValue("(NO)", plan, Py_None);
    }
    Arr w, b, sabs, a, b2;
    Arr *all[5] = {&w, &b, &sabs, &a, &b2};
    PyObject *objs[5] = {args[0], args[1], rows1, args[2], args[3]};
    const int ndims[5] = {2, 1, 1, 2, 1};
    const char *names[5] = {"w", "b", "sabs", "a", "b2"};
    PyObject *shape = NULL;
    int got = 0;
    for (; got < 5; got++)
        if (get_arr(objs[got], ndims[got], all[got], names[got]) < 0)
            break;
    if (got == 5) {
        const Py_ssize_t m = dim(&w, 0), n = dim(&w, 1), q = dim(&a, 0);
        if (dim(&b, 0) != m || dim(&sabs, 0) != m || dim(&a, 1) != m || dim(&b2, 0) != q)
            PyErr_SetString(PyExc_ValueError, "clause_cnf: inconsistent shapes");
        else
            shape = shape_core((const double *)w.view.buf, (const double *)b.view.buf,
                               (const double *)sabs.view.buf, sign, (const double *)a.view.buf,
                               (const double *)b2.view.buf, m, n, q);
    }
    for (int j = 0; j < got; j++)
        release(all[j]);
    Py_XDECREF(rows1);
    if (shape == NULL) {
        Py_DECREF(plan);
        return NULL;
    }
    return Py_BuildValue("(NN)", plan, shape);
}

/* ------------------------------------------------------------------ affine */

/* y = W x + B (m x n), then ReLU when relu; left-to-right sums. */
static void
affine_raw(const double *W, const double *B, Py_ssize_t m, Py_ssize_t n, const double *x,
           int relu, double *y)
{
    for (Py_ssize_t i = 0; i < m; i++) {
        double s = B[i];
        const double *row = W + i * n;
        for (Py_ssize_t j = 0; j < n; j++)
            s += row[j] * x[j];
        y[i] = relu ? (s > 0.0 ? s : 0.0) : s;
    }
}

/* Views of one layer's (w, b) with n inputs; -1 (error set) on a shape mismatch. */
static int
layer_views(PyObject *w_obj, PyObject *b_obj, Py_ssize_t n, Arr *w, Arr *b)
{
    if (get_arr(w_obj, 2, w, "w") < 0)
        return -1;
    if (get_arr(b_obj, 1, b, "b") < 0) {
        release(w);
        return -1;
    }
    if (dim(w, 1) != n || dim(b, 0) != dim(w, 0)) {
        PyErr_SetString(PyExc_ValueError, "affine: inconsistent shapes");
        release(w);
        release(b);
        return -1;
    }
    return 0;
}

/* ReLUNetwork.forward_int's evaluation of an integer network on a latent of Python
   ints: affine_int(weights, biases, relus, ints) with one (m_l x m_{l-1}) float64
   weight matrix, bias vector and ReLU flag per layer, returning the outputs as
   Python ints.  Called only when every partial sum is an integer below 2^53, so
   every double here is exact. */
static PyObject *
affine_int(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_nargs(nargs, 4, "affine_int") < 0)
        return NULL;
    PyObject *ws = PySequence_Fast(args[0], "affine_int: weights must be a sequence");
    PyObject *bs = ws ? PySequence_Fast(args[1], "affine_int: biases must be a sequence") : NULL;
    PyObject *rs = bs ? PySequence_Fast(args[2], "affine_int: relus must be a sequence") : NULL;
    PyObject *xs = rs ? PySequence_Fast(args[3], "affine_int: x must be a sequence of ints")
                      : NULL;
    PyObject *out = NULL;
    double *cur = NULL, *next = NULL;
    if (xs == NULL)
        goto done;
    const Py_ssize_t depth = PySequence_Fast_GET_SIZE(ws);
    if (depth == 0 || PySequence_Fast_GET_SIZE(bs) != depth ||
        PySequence_Fast_GET_SIZE(rs) != depth) {
        PyErr_SetString(PyExc_ValueError, "affine_int: one weight, bias and relu flag per layer");
        goto done;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(xs);
    cur = PyMem_Malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (cur == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject **items = PySequence_Fast_ITEMS(xs);
    for (Py_ssize_t j = 0; j < n; j++) {
        cur[j] = PyLong_AsDouble(items[j]);
        if (cur[j] == -1.0 && PyErr_Occurred())
            goto done;
    }
    for (Py_ssize_t l = 0; l < depth; l++) {
        int relu = PyObject_IsTrue(PySequence_Fast_GET_ITEM(rs, l));
        if (relu < 0)
            goto done;
        Arr w, b;
        if (layer_views(PySequence_Fast_GET_ITEM(ws, l), PySequence_Fast_GET_ITEM(bs, l), n, &w,
                        &b) < 0)
            goto done;
        const Py_ssize_t m = dim(&w, 0);
        next = PyMem_Malloc(sizeof(double) * (size_t)(m > 0 ? m : 1));
        if (next != NULL)
            affine_raw((const double *)w.view.buf, (const double *)b.view.buf, m, n, cur, relu,
                       next);
        release(&w);
        release(&b);
        if (next == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        PyMem_Free(cur);
        cur = next;
        next = NULL;
        n = m;
    }
    out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *v = PyLong_FromDouble(cur[i]);
        if (v == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, v);
    }
done:
    PyMem_Free(cur);
    Py_XDECREF(ws);
    Py_XDECREF(bs);
    Py_XDECREF(rs);
    Py_XDECREF(xs);
    return out;
}

/* ------------------------------------------------------------------ module */

static PyMethodDef methods[] = {
    {"layer_plan", (PyCFunction)(void (*)(void))layer_plan, METH_FASTCALL,
     "layer_plan(w, b) -> (integer, row sums of |w|, their max, max |b|)"},
    {"layer_plan2", (PyCFunction)(void (*)(void))layer_plan2, METH_FASTCALL,
     "layer_plan2(w1, b1, w2, b2): layer_plan of both layers (8-tuple)"},
    {"clause_cnf", (PyCFunction)(void (*)(void))clause_cnf, METH_FASTCALL,
     "clause_cnf(w, b, a, b2, sign) -> (layer_plan2, corner shape or None)"},
    {"affine_int", (PyCFunction)(void (*)(void))affine_int, METH_FASTCALL,
     "affine_int(weights, biases, relus, ints) -> the outputs as a list of ints"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ckernels",
    "The compiled loops of geninv.kernels, in C (see geninv/_ckernels.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__ckernels(void)
{
    PyObject *np = PyImport_ImportModule("numpy");
    if (np == NULL)
        return NULL;
    np_empty = PyObject_GetAttrString(np, "empty");
    np_contig = PyObject_GetAttrString(np, "ascontiguousarray");
    dt_f64 = PyObject_GetAttrString(np, "float64");
    Py_DECREF(np);
    if (!np_empty || !np_contig || !dt_f64)
        return NULL;
    return PyModule_Create(&module);
}
