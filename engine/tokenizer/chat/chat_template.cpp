#include "reasonscope/chat_template.h"

#include <ctime>

#include "jinja_ast.h"
#include "jinja_eval.h"

namespace rs {

namespace {

ChatTemplateError convert(const jinja::Failure& f) {
    using K = jinja::Failure::Kind;
    using E = ChatTemplateError::Kind;
    std::string where;
    if (f.line > 0) {
        where = "line " + std::to_string(f.line);
        if (f.column > 0) where += ", column " + std::to_string(f.column);
    }
    auto at = [&](const char* what) {
        std::string s = what;
        if (!where.empty()) s += " (" + where + ")";
        return s + ": " + f.message;
    };
    switch (f.kind) {
        case K::Raised:
            return ChatTemplateError(E::Raised, f.message, f.line, f.column);
        case K::Syntax:
            return ChatTemplateError(E::Syntax, at("chat template syntax error"), f.line, f.column);
        case K::Limit:
            return ChatTemplateError(E::Limit, at("chat template limit exceeded"), f.line,
                                     f.column);
        default:
            return ChatTemplateError(E::Runtime, at("chat template error"), f.line, f.column);
    }
}

std::tm resolve_now(const ChatTemplateOptions& o) {
    std::tm tm{};
    if (o.now) {
        tm = *o.now;
        // Fill in the weekday and day of the year (%a, %A, %j) from the date.
        std::tm probe = tm;
        probe.tm_isdst = 0;
        time_t t = timegm(&probe);
        std::tm norm{};
        gmtime_r(&t, &norm);
        tm.tm_wday = norm.tm_wday;
        tm.tm_yday = norm.tm_yday;
        return tm;
    }
    time_t t = std::time(nullptr);
    localtime_r(&t, &tm);
    return tm;
}

std::string run(const std::shared_ptr<const jinja::Program>& program, const jinja::Value& ctx,
                const ChatTemplateOptions& o) {
    jinja::Limits limits;
    limits.max_output = o.max_output;
    limits.max_steps = o.max_steps;
    limits.max_depth = o.max_depth;
    try {
        jinja::Interp interp(*program, limits, resolve_now(o));
        return interp.render(ctx);
    } catch (const jinja::Failure& f) {
        throw convert(f);
    }
}

template <typename J>
jinja::Value context_value(const J& context) {
    if (!context.is_object())
        throw ChatTemplateError(ChatTemplateError::Kind::Runtime,
                                "chat template context must be a JSON object", 0, 0);
    try {
        return jinja::from_json(context);
    } catch (const jinja::Failure& f) {
        throw convert(f);
    }
}

}  // namespace

ChatTemplate ChatTemplate::parse(const std::string& source) {
    ChatTemplate t;
    try {
        t.program_ = jinja::parse_template(source);
    } catch (const jinja::Failure& f) {
        throw convert(f);
    }
    t.source_ = source;
    return t;
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context,
                                 const ChatTemplateOptions& options) const {
    if (!program_) throw Error("chat template: render() before parse()");
    return run(program_, context_value(context), options);
}

std::string ChatTemplate::render(const nlohmann::json& context,
                                 const ChatTemplateOptions& options) const {
    if (!program_) throw Error("chat template: render() before parse()");
    return run(program_, context_value(context), options);
}

}  // namespace rs
