/* spec_pattern.c: string.find, string.match, string.gmatch and string.gsub
 * for specs, with Lua 5.4's pattern semantics, and table.move, re-written so
 * that the loops that run inside C check the load's time budget and stop
 * signals.  The standard versions backtrack without ever returning to the
 * Lua VM, so neither the instruction hook nor SIGTERM can stop a pattern
 * such as ".-.-.-.-.-.-.-b" over a long subject; here every 4096 matcher
 * steps look at the clock (spec_time_left) and raise when the budget is
 * spent.  The matcher is a backtracking one like Lua's (same complexity, a
 * few percent slower); the differential test in test_harden.c checks it
 * against the standard library. */
#include <ctype.h>
#include <string.h>

#include "core/spec_int.h"

#define MAXCAPS 32
#define MAXDEPTH 200 /* recursion bound, as Lua's MAXCCALLS for patterns */
#define CAP_OPEN (-1)
#define CAP_POS (-2)
#define SPECIALS "^$*+?.([%-"

typedef struct {
    const char *src, *src_end, *pat_end;
    lua_State *L;
    spec_ld_t *ld; /* budget owner, or NULL (no budget) */
    int depth, level;
    unsigned steps;
    struct {
        const char *at;
        ptrdiff_t len;
    } cap[MAXCAPS];
} ms_t;

static void step(ms_t *m) {
    if ((++m->steps & 4095) == 0 && m->ld && !spec_time_left(m->ld)) spec_check_time(m->L);
}

static const char *class_end(ms_t *m, const char *p) {
    char c = *p++;
    if (c == '%') {
        if (p >= m->pat_end) luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (*p == '^') p++;
        do { /* the first ']' of a set is a member */
            if (p >= m->pat_end) luaL_error(m->L, "malformed pattern (missing ']')");
            if (*p++ == '%' && p < m->pat_end) p++;
        } while (*p != ']');
        return p + 1;
    }
    return p;
}

static int class_has(int cl, int c) {
    int r;
    switch (tolower(cl)) {
    case 'a': r = isalpha(c); break;
    case 'c': r = iscntrl(c); break;
    case 'd': r = isdigit(c); break;
    case 'g': r = isgraph(c); break;
    case 'l': r = islower(c); break;
    case 'p': r = ispunct(c); break;
    case 's': r = isspace(c); break;
    case 'u': r = isupper(c); break;
    case 'w': r = isalnum(c); break;
    case 'x': r = isxdigit(c); break;
    default: return cl == c;
    }
    if (isupper(cl)) r = !r;
    return r != 0;
}

/* p at '[', ec at its closing ']'. */
static int set_has(int c, const char *p, const char *ec) {
    int neg = 0;
    if (*++p == '^') neg = 1, p++;
    for (; p < ec; p++) {
        if (*p == '%') {
            p++;
            if (class_has((unsigned char)*p, c)) return !neg;
        } else if (p[1] == '-' && p + 2 < ec) {
            p += 2;
            if ((unsigned char)p[-2] <= c && c <= (unsigned char)*p) return !neg;
        } else if ((unsigned char)*p == c) {
            return !neg;
        }
    }
    return neg;
}

static int single(ms_t *m, const char *s, const char *p, const char *ep) {
    if (s >= m->src_end) return 0;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case '%': return class_has((unsigned char)p[1], c);
    case '[': return set_has(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

static const char *match(ms_t *m, const char *s, const char *p);

static const char *balance(ms_t *m, const char *s, const char *p) {
    if (p + 1 >= m->pat_end) luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->src_end || *s != *p) return NULL;
    char open = p[0], close = p[1];
    int depth = 1;
    while (++s < m->src_end) {
        step(m);
        if (*s == close) {
            if (--depth == 0) return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

static const char *greedy(ms_t *m, const char *s, const char *p, const char *ep) {
    ptrdiff_t n = 0;
    while (single(m, s + n, p, ep))
        n++, step(m);
    for (; n >= 0; n--) {
        const char *r = match(m, s + n, ep + 1);
        if (r) return r;
    }
    return NULL;
}

static const char *lazy(ms_t *m, const char *s, const char *p, const char *ep) {
    for (;;) {
        const char *r = match(m, s, ep + 1);
        if (r) return r;
        if (!single(m, s, p, ep)) return NULL;
        s++;
    }
}

static const char *open_cap(ms_t *m, const char *s, const char *p, ptrdiff_t what) {
    if (m->level >= MAXCAPS) luaL_error(m->L, "too many captures");
    m->cap[m->level].at = s;
    m->cap[m->level].len = what;
    m->level++;
    const char *r = match(m, s, p);
    if (!r) m->level--;
    return r;
}

static const char *close_cap(ms_t *m, const char *s, const char *p) {
    int l = -1;
    for (int k = m->level - 1; k >= 0; k--)
        if (m->cap[k].len == CAP_OPEN) {
            l = k;
            break;
        }
    if (l < 0) luaL_error(m->L, "invalid pattern capture");
    m->cap[l].len = s - m->cap[l].at;
    const char *r = match(m, s, p);
    if (!r) m->cap[l].len = CAP_OPEN;
    return r;
}

static const char *backref(ms_t *m, const char *s, int digit) {
    int l = digit - '1';
    if (l < 0 || l >= m->level || m->cap[l].len == CAP_OPEN)
        luaL_error(m->L, "invalid capture index %%%d", l + 1);
    size_t len = (size_t)m->cap[l].len;
    if ((size_t)(m->src_end - s) >= len && memcmp(m->cap[l].at, s, len) == 0) return s + len;
    return NULL;
}

static const char *frontier(ms_t *m, const char *s, const char **pp) {
    const char *p = *pp;
    if (*p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
    const char *ep = class_end(m, p);
    int prev = s == m->src ? 0 : (unsigned char)s[-1];
    int cur = s < m->src_end ? (unsigned char)*s : 0;
    *pp = ep;
    return !set_has(prev, p, ep - 1) && set_has(cur, p, ep - 1) ? s : NULL;
}

/* One item (with its quantifier) at p; loops instead of recursing for
 * items that cannot backtrack. */
static const char *match(ms_t *m, const char *s, const char *p) {
    if (++m->depth > MAXDEPTH) luaL_error(m->L, "pattern too complex");
    step(m);
    const char *r = NULL;
    for (;;) {
        if (p == m->pat_end) {
            r = s;
            break;
        }
        if (*p == '(') {
            r = p + 1 < m->pat_end && p[1] == ')' ? open_cap(m, s, p + 2, CAP_POS)
                                                  : open_cap(m, s, p + 1, CAP_OPEN);
            break;
        }
        if (*p == ')') {
            r = close_cap(m, s, p + 1);
            break;
        }
        if (*p == '$' && p + 1 == m->pat_end) {
            r = s == m->src_end ? s : NULL;
            break;
        }
        if (*p == '%' && p + 1 < m->pat_end && p[1] == 'b') {
            s = balance(m, s, p + 2);
            if (!s) break;
            p += 4;
            continue;
        }
        if (*p == '%' && p + 1 < m->pat_end && p[1] == 'f') {
            p += 2;
            if (!frontier(m, s, &p)) break;
            continue;
        }
        if (*p == '%' && p + 1 < m->pat_end && isdigit((unsigned char)p[1])) {
            s = backref(m, s, (unsigned char)p[1]);
            if (!s) break;
            p += 2;
            continue;
        }
        const char *ep = class_end(m, p);
        char q = ep < m->pat_end ? *ep : '\0';
        if (!single(m, s, p, ep)) {
            if (q == '*' || q == '?' || q == '-') {
                p = ep + 1;
                continue;
            }
            break; /* r stays NULL */
        }
        if (q == '?') {
            r = match(m, s + 1, ep + 1);
            if (r) break;
            p = ep + 1;
            continue;
        }
        if (q == '+')
            r = greedy(m, s + 1, p, ep);
        else if (q == '*')
            r = greedy(m, s, p, ep);
        else if (q == '-')
            r = lazy(m, s, p, ep);
        else {
            s++;
            p = ep;
            continue;
        }
        break;
    }
    m->depth--;
    return r;
}

static void ms_init(ms_t *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
    memset(m, 0, sizeof *m);
    m->L = L;
    m->ld = lua_touserdata(L, lua_upvalueindex(1));
    m->src = s;
    m->src_end = s + ls;
    m->pat_end = p + lp;
}

static void ms_reset(ms_t *m) {
    m->level = 0;
    m->depth = 0;
}

/* Pushes capture i (the whole match s..e when there are none and i == 0). */
static void push_cap(ms_t *m, int i, const char *s, const char *e) {
    if (i >= m->level) {
        if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t l = m->cap[i].len;
    if (l == CAP_OPEN) luaL_error(m->L, "unfinished capture");
    if (l == CAP_POS)
        lua_pushinteger(m->L, (lua_Integer)(m->cap[i].at - m->src) + 1);
    else
        lua_pushlstring(m->L, m->cap[i].at, (size_t)l);
}

static int push_caps(ms_t *m, const char *s, const char *e, int whole) {
    int n = m->level == 0 && whole ? 1 : m->level;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_cap(m, i, s, e);
    return n;
}

static size_t start_pos(lua_Integer pos, size_t len) {
    if (pos > 0) return (size_t)pos;
    if (pos == 0) return 1;
    if (pos < -(lua_Integer)len) return 1;
    return len + (size_t)pos + 1;
}

static const char *plain_find(const char *s, size_t ls, const char *p, size_t lp) {
    if (lp == 0) return s;
    if (lp > ls) return NULL;
    return memmem(s, ls, p, lp);
}

/* No magic character in p (which may hold NULs). */
static int no_specials(const char *p, size_t lp) {
    for (size_t i = 0; i < lp; i++)
        if (strchr(SPECIALS, p[i]) && p[i]) return 0;
    return 1;
}

static int find_aux(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls), *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || no_specials(p, lp))) {
        const char *f = plain_find(s + init, ls - init, p, lp);
        if (f) {
            lua_pushinteger(L, (lua_Integer)(f - s) + 1);
            lua_pushinteger(L, (lua_Integer)(f - s + lp));
            return 2;
        }
        luaL_pushfail(L);
        return 1;
    }
    ms_t m;
    int anchor = lp && *p == '^';
    if (anchor) p++, lp--;
    ms_init(&m, L, s, ls, p, lp);
    const char *s1 = s + init;
    do {
        ms_reset(&m);
        step(&m);
        const char *e = match(&m, s1, p);
        if (e) {
            if (find) {
                lua_pushinteger(L, (lua_Integer)(s1 - s) + 1);
                lua_pushinteger(L, (lua_Integer)(e - s));
                return push_caps(&m, NULL, NULL, 0) + 2;
            }
            return push_caps(&m, s1, e, 1);
        }
    } while (s1++ < m.src_end && !anchor);
    luaL_pushfail(L);
    return 1;
}

static int l_find(lua_State *L) {
    return find_aux(L, 1);
}
static int l_match(lua_State *L) {
    return find_aux(L, 0);
}

/* gmatch state: a userdata (so the subject and pattern stay referenced as
 * upvalues of the iterator). */
typedef struct {
    ms_t m;
    const char *at, *last;
} gm_t;

static int gmatch_next(lua_State *L) {
    gm_t *g = lua_touserdata(L, lua_upvalueindex(3));
    g->m.L = L;
    const char *p = lua_tostring(L, lua_upvalueindex(2));
    for (const char *src = g->at; src <= g->m.src_end; src++) {
        ms_reset(&g->m);
        step(&g->m);
        const char *e = match(&g->m, src, p);
        if (e && e != g->last) {
            g->at = g->last = e;
            return push_caps(&g->m, src, e, 1);
        }
    }
    return 0;
}

static int l_gmatch(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls), *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) init = ls + 1; /* no matches */
    spec_ld_t *ld = lua_touserdata(L, lua_upvalueindex(1));
    lua_settop(L, 2);
    gm_t *g = lua_newuserdatauv(L, sizeof *g, 0);
    ms_init(&g->m, L, s, ls, p, lp);
    g->m.ld = ld;
    g->at = s + init;
    g->last = NULL;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

static void add_repl_string(ms_t *m, luaL_Buffer *b, const char *s, const char *e) {
    size_t l;
    const char *r = lua_tolstring(m->L, 3, &l), *end = r + l;
    for (const char *c = r; c < end; c++) {
        if (*c != '%') {
            luaL_addchar(b, *c);
            continue;
        }
        c++;
        if (c < end && *c == '%')
            luaL_addchar(b, '%');
        else if (c < end && *c == '0')
            luaL_addlstring(b, s, (size_t)(e - s));
        else if (c < end && isdigit((unsigned char)*c)) {
            push_cap(m, *c - '1', s, e);
            luaL_tolstring(m->L, -1, NULL); /* a position capture is a number */
            lua_remove(m->L, -2);
            luaL_addvalue(b);
        } else {
            luaL_error(m->L, "invalid use of '%c' in replacement string", '%');
        }
    }
}

static void add_repl(ms_t *m, luaL_Buffer *b, const char *s, const char *e, int tr) {
    lua_State *L = m->L;
    if (tr == LUA_TNUMBER || tr == LUA_TSTRING) {
        add_repl_string(m, b, s, e);
        return;
    }
    if (tr == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_caps(m, s, e, 1);
        lua_call(L, n, 1);
    } else {
        push_cap(m, 0, s, e);
        lua_gettable(L, 3);
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return;
    }
    if (!lua_isstring(L, -1)) luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
}

static int l_gsub(lua_State *L) {
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls), *p = luaL_checklstring(L, 2, &lp);
    int tr = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
                     "string/function/table");
    int anchor = lp && *p == '^';
    if (anchor) p++, lp--;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    ms_t m;
    ms_init(&m, L, src, ls, p, lp);
    const char *last = NULL;
    lua_Integer n = 0;
    while (n < max) {
        ms_reset(&m);
        step(&m);
        const char *e = match(&m, src, p);
        if (e && e != last) {
            n++;
            add_repl(&m, &b, src, e, tr);
            src = last = e;
        } else if (src < m.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor) break;
    }
    luaL_addlstring(&b, src, (size_t)(m.src_end - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

/* table.move(a1, f, e, t [, a2]): the standard one loops in C over any
 * range it is given (table.move({}, 1, 1e15, 2) runs for days). */
static int l_move(lua_State *L) {
    spec_ld_t *ld = lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3), t = luaL_checkinteger(L, 4);
    int tt = !lua_isnoneornil(L, 5) ? 5 : 1;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, tt, LUA_TTABLE);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
        lua_Integer n = e - f + 1;
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
        int fwd = t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ));
        for (lua_Integer i = 0; i < n; i++) {
            if ((i & 4095) == 4095 && ld && !spec_time_left(ld)) spec_check_time(L);
            lua_Integer k = fwd ? i : n - 1 - i;
            lua_geti(L, 1, f + k);
            lua_seti(L, tt, t + k);
        }
    }
    lua_pushvalue(L, tt);
    return 1;
}

void spec_pattern_install(lua_State *L, spec_ld_t *ld) {
    static const luaL_Reg fns[] = {
        {"find", l_find}, {"match", l_match}, {"gmatch", l_gmatch}, {"gsub", l_gsub}, {NULL, NULL}};
    lua_getglobal(L, "string");
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushlightuserdata(L, ld);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
    lua_pop(L, 1);
    lua_getglobal(L, "table");
    if (lua_istable(L, -1)) {
        lua_pushlightuserdata(L, ld);
        lua_pushcclosure(L, l_move, 1);
        lua_setfield(L, -2, "move");
    }
    lua_pop(L, 1);
}

void spec_pattern_open(lua_State *L) {
    spec_pattern_install(L, spec_ld_of(L));
}
